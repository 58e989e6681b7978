"""The event loop: bring the index up to date with the provider's changes.

One poll reads ``/core/v4/events/{last id}`` and follows ``More`` for up to
:data:`MAX_EVENTS_PER_POLL` events. Each event is applied in the provider's
order (Refresh, then Addresses, Labels and Messages) inside ONE transaction
that also stores its id, so the stored id is always that of the last event
fully applied. The mailboxes that changed are published after the commit.

* Refresh (mail): the index is dropped, every mailbox gets a new
  UIDVALIDITY and a new first sync starts.
* Messages: create fetches, decrypts and builds the message; update and
  update-flags apply labels and flags (and fetch a message the index does
  not know; a draft whose content changed gets new UIDs); delete removes it.
* A message that cannot be applied leaves an
  :class:`~mailsync.models.EventFailure` and the loop goes on; later polls
  fetch those messages again until they apply.

A 401 is handled by the client (one refresh); a refused refresh sets the
account to needs-login. 429 and 5xx answers the client could not wait out
are raised, so the task runner retries later with backoff.
"""

import asyncio
import logging
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction
from django.utils import timezone

from accounts.models import Activity, LinkedAccount, record_activity
from mailsync import dispatch, index, notify
from mailsync.models import EventFailure, SyncState
from mailsync.provider.errors import (
    CryptoError,
    NotFound,
    ProviderError,
    SessionRevoked,
    ValidationError,
)
from mailsync.provider.types import (
    EVENT_CREATE,
    EVENT_DELETE,
    EVENT_UPDATE,
    Event,
    MessageEvent,
)
from mailsync.session import AccountSession, NotLinked, open_session
from mailsync.sync import (
    LeaseKeeper,
    LeaseLost,
    Prepared,
    acquire_lease,
    label_info,
    mark_needs_login,
    message_info,
    needs_login_reason,
    new_lease_owner,
    prepare_message,
    release_lease,
    set_last_error,
)

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_POLL = 50
# Failed messages re-fetched per poll, and how often each is tried.
FAILURES_PER_POLL = 20
MAX_FAILURE_ATTEMPTS = 5
# Messages of one event fetched at the same time.
FETCH_CONCURRENCY = 4


def poll_events(account_id: int) -> str:
    """Apply the account's new events; a one-line summary."""
    return async_to_sync(run_poll)(account_id)


async def run_poll(account_id: int) -> str:
    owner = new_lease_owner()
    if not await sync_to_async(acquire_lease)(account_id, owner):
        return "the account is busy (sync or another poll)"

    try:
        state = await sync_to_async(_account_state)(account_id)
        if state != LinkedAccount.State.READY:
            return f"not polling: the account is {state}"

        async with (
            open_session(account_id) as session,
            LeaseKeeper(account_id, owner) as keeper,
        ):
            poll = EventPoll(session, keeper)
            summary = await poll.run()
    except (SessionRevoked, NotLinked) as exc:
        logger.warning("account %s: session ended: %r", account_id, exc)
        await sync_to_async(mark_needs_login)(account_id, needs_login_reason(exc))
        return "the provider session ended; the account needs a new login"
    except LeaseLost:
        return "another process took the account over"
    except ProviderError as exc:
        if exc.transient:
            await sync_to_async(set_last_error)(
                account_id,
                "The provider is not answering as it should right now "
                f"({exc.message or exc}); the bridge keeps trying.",
            )
        raise
    finally:
        await sync_to_async(release_lease)(account_id, owner)

    if poll.resync:
        # Started only now: the new sync needs the lease this poll held.
        await sync_to_async(dispatch.run_task)("first_sync", account_id)
    elif poll.applied:
        await sync_to_async(set_last_error)(account_id, "")
    return summary


def _account_state(account_id: int) -> str:
    state = LinkedAccount.objects.filter(id=account_id).values_list("state", flat=True)
    return state.first() or "gone"


@dataclass
class EventOutcome:
    changed: set[int] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)
    refresh: bool = False


class EventPoll:
    """One poll of one account's event feed."""

    def __init__(self, session: AccountSession, keeper: LeaseKeeper) -> None:
        self.session = session
        self.client = session.client
        self.keeper = keeper
        self.account_id = session.account_id
        self.applied = 0
        self.resync = False

    async def run(self) -> str:
        retried = await self._retry_failures()

        last_id = await sync_to_async(self._last_event_id)()
        if not last_id:
            latest = await self.client.get_latest_event_id()
            await sync_to_async(self._store_first_event_id)(latest)
            return "started following events"

        while self.applied < MAX_EVENTS_PER_POLL:
            dispatch.check_stop()
            self.keeper.check()
            try:
                event = await self.client.get_event(last_id)
            except (NotFound, ValidationError) as exc:
                # The provider no longer knows our place in its feed: only a
                # fresh sync can bring the index back in line.
                logger.warning("account %s: event id refused: %r", self.account_id, exc)
                await sync_to_async(self._refresh)(
                    "The provider's change feed lost track of this bridge; "
                    "the mail is being synced again."
                )
                return "event id refused; a new sync started"

            if event.event_id == last_id and _is_empty(event):
                break

            try:
                outcome = await self._apply(last_id, event)
            except ConcurrentPoll:
                return "another poll applied these events first"
            self.applied += 1
            if outcome.refresh:
                return "the provider asked for a refresh; a new sync started"
            last_id = event.event_id
            if not event.more:
                break

        if not self.applied and not retried:
            return dispatch.NOTHING_NEW
        return f"applied {self.applied} events, fixed {retried} failed messages"

    # -- one event -----------------------------------------------------------

    async def _apply(self, previous_id: str, event: Event) -> EventOutcome:
        if event.needs_mail_refresh:
            await sync_to_async(self._refresh)(
                "The provider asked for a full refresh; the mail is being synced again."
            )
            return EventOutcome(refresh=True)

        if event.addresses:
            # New or changed addresses may bring keys the sync needs.
            self.session.forget_keys()

        prepared, failures = await self._fetch_messages(event)
        outcome = await sync_to_async(self._write_event)(
            previous_id, event, prepared, failures
        )
        await sync_to_async(notify.publish_mailboxes_changed)(
            self.account_id, sorted(outcome.changed)
        )
        return outcome

    async def _fetch_messages(
        self, event: Event
    ) -> tuple[dict[str, Prepared | None], dict[str, str]]:
        """Download and build what the event needs, before the transaction.

        Returns the prepared messages (None: gone at the provider) and the
        errors of those that could not be prepared.
        """
        wanted = await sync_to_async(self._messages_to_fetch)(event)
        prepared: dict[str, Prepared | None] = {}
        failures: dict[str, str] = {}
        limit = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def fetch(message_id: str) -> None:
            async with limit:
                try:
                    prepared[message_id] = await _prepare_unless_gone(
                        self.session, message_id
                    )
                except (CryptoError, ValueError) as exc:
                    failures[message_id] = f"{type(exc).__name__}: {exc}"
                except ProviderError as exc:
                    if exc.transient or isinstance(exc, SessionRevoked):
                        raise
                    failures[message_id] = f"{type(exc).__name__}: {exc}"

        await asyncio.gather(*(fetch(message_id) for message_id in wanted))
        return prepared, failures

    def _messages_to_fetch(self, event: Event) -> list[str]:
        account = LinkedAccount.objects.get(id=self.account_id)
        latest = _last_action_per_message(event.messages)
        updates = [item.id for item in latest.values() if item.action != EVENT_DELETE]
        known = index.known_message_ids(account, updates)

        wanted = []
        for item in latest.values():
            if item.action == EVENT_DELETE:
                continue
            unknown = item.id not in known
            draft_edit = (
                item.action == EVENT_UPDATE
                and item.message is not None
                and item.message.is_draft
            )
            if item.action == EVENT_CREATE or unknown or draft_edit:
                wanted.append(item.id)
        return wanted

    def _write_event(
        self,
        previous_id: str,
        event: Event,
        prepared: dict[str, Prepared | None],
        failures: dict[str, str],
    ) -> EventOutcome:
        account = LinkedAccount.objects.get(id=self.account_id)
        outcome = EventOutcome()

        with transaction.atomic():
            self._apply_addresses(account, event)
            self._apply_labels(account, event, outcome)
            self._apply_messages(account, event, prepared, failures, outcome)

            # Stored only if nobody applied this event meanwhile; otherwise
            # roll everything back and let the next poll start from there.
            moved = SyncState.objects.filter(
                account=account, last_event_id=previous_id
            ).update(last_event_id=event.event_id)
            if moved != 1:
                raise ConcurrentPoll(f"account {account.id}: event already applied")
            LinkedAccount.objects.filter(id=account.id).update(
                last_event_at=timezone.now()
            )

            if outcome.failed:
                EventFailure.objects.create(
                    account=account,
                    event_id=event.event_id,
                    error="; ".join(
                        failures.get(i, "not applied") for i in outcome.failed
                    )[:2000],
                    message_ids=outcome.failed,
                )
        return outcome

    def _apply_addresses(self, account: LinkedAccount, event: Event) -> None:
        for item in event.addresses:
            if item.action == EVENT_DELETE or item.address is None:
                index.delete_address(account, item.id)
            else:
                index.apply_address(account, item.address)

    def _apply_labels(
        self, account: LinkedAccount, event: Event, outcome: EventOutcome
    ) -> None:
        for item in event.labels:
            if item.action == EVENT_DELETE or item.label is None:
                outcome.changed |= index.delete_label(account, item.id)
                continue
            try:
                outcome.changed |= index.apply_label(account, label_info(item.label))
            except index.IndexConflict as exc:
                logger.warning("account %s: label %s: %s", account.id, item.id, exc)

    def _apply_messages(
        self,
        account: LinkedAccount,
        event: Event,
        prepared: dict[str, Prepared | None],
        failures: dict[str, str],
        outcome: EventOutcome,
    ) -> None:
        for item in _last_action_per_message(event.messages).values():
            if item.id in failures:
                outcome.failed.append(item.id)
                continue

            if item.action == EVENT_DELETE:
                outcome.changed |= index.delete_message(account, item.id)
                continue

            if item.id in prepared:
                ready = prepared[item.id]
                if ready is None:
                    # Gone at the provider by now; a later event says so too.
                    outcome.changed |= index.delete_message(account, item.id)
                else:
                    outcome.changed |= index.upsert_message(
                        account, ready.info, ready.content
                    )
                continue

            if item.message is None:
                outcome.failed.append(item.id)
                continue
            changed = index.update_message(account, message_info(item.message))
            if changed is None:
                outcome.failed.append(item.id)
            else:
                outcome.changed |= changed

    # -- refresh, failures, bookkeeping --------------------------------------

    def _refresh(self, reason: str) -> None:
        account = LinkedAccount.objects.get(id=self.account_id)
        with transaction.atomic():
            changed = index.reset_index(account)
            SyncState.objects.filter(account=account).update(
                phase=SyncState.Phase.WAITING,
                cursor="",
                done=0,
                total=0,
                last_event_id="",
                finished_at=None,
            )
            account.state = LinkedAccount.State.SYNCING
            account.save(update_fields=["state", "updated_at"])
        record_activity(account, Activity.Kind.SYNC, reason)
        notify.publish_mailboxes_changed(account.id, sorted(changed))
        notify.publish_status(account.id, {"state": account.state, "phase": "waiting"})
        self.resync = True

    async def _retry_failures(self) -> int:
        """Fetch the messages of earlier failures again; how many now apply."""
        fixed = 0
        for failure in await sync_to_async(self._open_failures)():
            prepared: dict[str, Prepared | None] = {}
            try:
                for message_id in failure.message_ids:
                    prepared[message_id] = await _prepare_unless_gone(
                        self.session, message_id
                    )
            except (CryptoError, ValueError) as exc:
                await sync_to_async(self._failure_attempt)(failure, exc)
                continue
            except ProviderError as exc:
                if exc.transient or isinstance(exc, SessionRevoked):
                    raise
                await sync_to_async(self._failure_attempt)(failure, exc)
                continue

            await sync_to_async(self._resolve_failure)(failure, prepared)
            fixed += 1
        return fixed

    def _open_failures(self) -> list[EventFailure]:
        return list(
            EventFailure.objects.filter(
                account_id=self.account_id,
                resolved_at__isnull=True,
                attempts__lt=MAX_FAILURE_ATTEMPTS,
            ).order_by("id")[:FAILURES_PER_POLL]
        )

    def _failure_attempt(self, failure: EventFailure, exc: Exception) -> None:
        failure.attempts += 1
        failure.error = f"{type(exc).__name__}: {exc}"[:2000]
        failure.save(update_fields=["attempts", "error"])

    def _resolve_failure(
        self, failure: EventFailure, prepared: dict[str, Prepared | None]
    ) -> None:
        account = LinkedAccount.objects.get(id=self.account_id)
        changed: set[int] = set()
        with transaction.atomic():
            for message_id, ready in prepared.items():
                if ready is None:
                    changed |= index.delete_message(account, message_id)
                else:
                    changed |= index.upsert_message(account, ready.info, ready.content)
            failure.resolved_at = timezone.now()
            failure.attempts += 1
            failure.save(update_fields=["resolved_at", "attempts"])
        notify.publish_mailboxes_changed(account.id, sorted(changed))

    def _last_event_id(self) -> str:
        state, _ = SyncState.objects.get_or_create(account_id=self.account_id)
        return state.last_event_id

    def _store_first_event_id(self, event_id: str) -> None:
        SyncState.objects.filter(account_id=self.account_id, last_event_id="").update(
            last_event_id=event_id
        )


class ConcurrentPoll(Exception):
    """Another poller stored this event first; nothing was changed here."""


async def _prepare_unless_gone(
    session: AccountSession, message_id: str
) -> Prepared | None:
    """The message ready to store; None when the provider no longer has it."""
    try:
        return await prepare_message(session, message_id)
    except NotFound:
        return None


def _is_empty(event: Event) -> bool:
    return not (event.messages or event.labels or event.addresses or event.refresh)


def _last_action_per_message(items: list[MessageEvent]) -> dict[str, MessageEvent]:
    """One action per message: the last one, except that a create stays a
    create (the message must still be fetched) unless it ends in delete."""
    latest: dict[str, MessageEvent] = {}
    for item in items:
        before = latest.get(item.id)
        if (
            before is not None
            and before.action == EVENT_CREATE
            and item.action != EVENT_DELETE
        ):
            item = MessageEvent(id=item.id, action=EVENT_CREATE, message=item.message)
        latest[item.id] = item
    return latest
