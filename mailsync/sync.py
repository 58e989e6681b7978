"""The first sync of a linked account: labels, counts, then every message.

Phases (stored in :class:`~mailsync.models.SyncState`, so a sync killed at
any point resumes where it stopped)::

    waiting -> labels -> counting -> listing -> messages -> done

Before anything is listed the latest event id is stored: whatever changes
while the sync runs is applied by the event loop afterwards, so nothing
falls between the two.

UIDs are given in the order messages are written, and mail programs expect
them to grow with time: some load "the most recent N" as the highest
sequence numbers. The provider lists newest first, so the sync works in two
phases:

* listing: the metadata is paged newest first and only each message's ID
  and time are kept, as :class:`~mailsync.models.SyncQueueItem` rows,
  stored in one transaction with the cursor (the ID of the last message
  listed). A restart lists again below the cursor.
* messages: the queue is read oldest first, by (time, provider ID). Each
  message is downloaded with its attachments, decrypted, built and
  analysed by up to ``settings.BRIDGE_SYNC_CONCURRENCY`` workers, and
  written by one writer in queue order, in batches (at most
  :data:`BATCH_SIZE` messages or :data:`BATCH_SECONDS` apart), each batch
  in one transaction that also removes its queue rows. A restart goes on
  with what is left of the queue, in the same order, so no message is
  missed or written twice, and UIDs already given stay.

Only a window of messages is in memory at any time; the queue holds IDs and
times, and is gone once the sync is done. Messages arriving later come
through the event loop and get higher UIDs.

Where the time goes (bench/sync, 2 cores): OpenPGP decryption and the
build are about a third of the sync's CPU; HTTP and JSON handling, the
IMAP analysis, sealing the cache and the database share the rest.

A lease in the sync state makes sure only one process syncs (or polls
events for) an account at a time; the holder renews it while working, and
a holder that died on this host is replaced at once.
"""

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.expressions import Combinable
from django.db.models.functions import Collate
from django.utils import timezone

from accounts.models import Activity, LinkedAccount, record_activity
from mailsync import dispatch, index, notify
from mailsync.index import Content, LabelInfo, MessageInfo
from mailsync.models import ALL_MAIL, EventFailure, SyncQueueItem, SyncState
from mailsync.provider.client import UnlockedAccount
from mailsync.provider.errors import (
    CryptoError,
    NotFound,
    ProviderError,
    SessionRevoked,
)
from mailsync.provider.types import Label, MessageMetadata
from mailsync.session import AccountSession, KeysLocked, NotLinked, open_session
from mailsync.structure import analyze

logger = logging.getLogger(__name__)

LEASE_SECONDS = 90
# Messages are written in batches of at most this many, or this often.
BATCH_SIZE = 64
BATCH_SECONDS = 1.0
# How many queued messages are read from the database at a time.
QUEUE_CHUNK = 500
# How often progress reaches the dashboard at most.
PROGRESS_INTERVAL = 1.0
FIRST_SYNC_FAILURE_EVENT = "first-sync"


# -- the lease ---------------------------------------------------------------


def new_lease_owner() -> str:
    """An owner id naming this host and process (and this one run)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_is_dead(holder: str) -> bool:
    # A holder on this host whose process is gone cannot renew; waiting for
    # its lease to run out would only delay the restart.
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire_lease(account_id: int, owner: str, seconds: int = LEASE_SECONDS) -> bool:
    """Take the account's lease if it is free, expired or its holder died."""
    now = timezone.now()
    state, _ = SyncState.objects.get_or_create(account_id=account_id)

    free = (
        Q(lease_owner="")
        | Q(lease_owner=owner)
        | Q(lease_until__isnull=True)
        | Q(lease_until__lt=now)
    )
    if state.lease_owner and _holder_is_dead(state.lease_owner):
        logger.info(
            "account %s: lease holder %s is gone", account_id, state.lease_owner
        )
        free |= Q(lease_owner=state.lease_owner)

    taken = SyncState.objects.filter(free, account_id=account_id).update(
        lease_owner=owner, lease_until=now + timedelta(seconds=seconds)
    )
    return taken == 1


def renew_lease(account_id: int, owner: str, seconds: int = LEASE_SECONDS) -> bool:
    renewed = SyncState.objects.filter(account_id=account_id, lease_owner=owner).update(
        lease_until=timezone.now() + timedelta(seconds=seconds)
    )
    return renewed == 1


def release_lease(account_id: int, owner: str) -> None:
    SyncState.objects.filter(account_id=account_id, lease_owner=owner).update(
        lease_owner="", lease_until=None
    )


class LeaseLost(Exception):
    """Another process took over the account; this one must stop."""


class LeaseKeeper:
    """Renews a lease in the background while a sync or poll works."""

    def __init__(self, account_id: int, owner: str) -> None:
        self.account_id = account_id
        self.owner = owner
        self.lost = False
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> "LeaseKeeper":
        self._task = asyncio.create_task(self._renew_forever())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            renewed = await sync_to_async(renew_lease)(self.account_id, self.owner)
            if not renewed:
                logger.warning("account %s: lease lost", self.account_id)
                self.lost = True
                return

    def check(self) -> None:
        if self.lost:
            raise LeaseLost(f"account {self.account_id} is synced by another process")


# -- account states ----------------------------------------------------------


def mark_needs_login(account_id: int, reason: str) -> None:
    """The provider session is gone: stop and ask the person to log in."""
    account = LinkedAccount.objects.get(id=account_id)
    account.forget_session()
    account.state = LinkedAccount.State.NEEDS_LOGIN
    account.last_error = reason
    account.save()
    record_activity(account, Activity.Kind.ERROR, reason)
    notify.publish_status(account_id, {"state": account.state, "error": reason})


SESSION_ENDED = (
    "The provider ended the bridge's session (it was logged out, revoked or "
    "expired). Log in again on the dashboard to resume."
)
KEYS_LOCKED = (
    "The account's keys no longer open with what the bridge stored (was the "
    "password changed?). Log in again on the dashboard to resume."
)


def needs_login_reason(exc: Exception) -> str:
    return KEYS_LOCKED if isinstance(exc, KeysLocked) else SESSION_ENDED


def mark_error(account_id: int, reason: str) -> None:
    """A failure that waiting will not cure: stop and say why."""
    account = LinkedAccount.objects.get(id=account_id)
    account.state = LinkedAccount.State.ERROR
    account.last_error = reason
    account.save(update_fields=["state", "last_error", "updated_at"])
    record_activity(account, Activity.Kind.ERROR, reason)
    notify.publish_status(account_id, {"state": account.state, "error": reason})


def set_last_error(account_id: int, text: str) -> None:
    LinkedAccount.objects.filter(id=account_id).update(last_error=text)


# -- conversions from provider objects ---------------------------------------


def label_info(label: Label) -> LabelInfo:
    return LabelInfo(
        label_id=label.id,
        name=label.name,
        label_type=label.type,
        parent_id=label.parent_id,
        path=label.path,
        color=label.color,
    )


def message_info(message: MessageMetadata) -> MessageInfo:
    return MessageInfo(
        provider_id=message.id,
        label_ids=list(message.label_ids),
        address_id=message.address_id,
        external_id=message.external_id,
        unread=message.unread,
        flags=message.flags,
        is_replied=message.is_replied,
        is_replied_all=message.is_replied_all,
        is_forwarded=message.is_forwarded,
        time=datetime.fromtimestamp(message.time, UTC),
    )


# -- one message: download, decrypt, build, analyse --------------------------


@dataclass
class Prepared:
    """A message ready to be written: its metadata and its content."""

    info: MessageInfo
    content: Content


@dataclass(frozen=True)
class Queued:
    """A listed message waiting to be written; ``known`` when already indexed."""

    row_id: int
    provider_id: str
    time: datetime
    known: bool = False


def analyze_content(raw: bytes) -> Content:
    """Everything IMAP will need of the message, computed once."""
    analysis = analyze(raw)
    return Content(
        raw=raw,
        envelope=analysis.envelope,
        bodystructure=analysis.bodystructure,
        body=analysis.body,
        parts=_jsonable_parts(analysis.parts),
        sent_date=analysis.date,
        search=analysis.search_fields(),
    )


def _jsonable_parts(parts: Any) -> dict[str, Any]:
    return {str(section): list(offsets) for section, offsets in dict(parts).items()}


async def prepare_message(
    session: AccountSession, message_id: str, unlocked: UnlockedAccount | None = None
) -> Prepared:
    """Download, decrypt, build and analyse one message.

    OpenPGP, the build and the analysis run in worker threads, so the event
    loop keeps downloading meanwhile.
    """
    unlocked = unlocked or await session.unlocked()
    message, raw = await session.client.fetch_rfc822(unlocked, message_id)
    content = await asyncio.to_thread(analyze_content, raw)
    return Prepared(info=message_info(message), content=content)


# -- the first sync ----------------------------------------------------------


def first_sync(account_id: int) -> str:
    """Run (or resume) the first sync of an account; a one-line summary."""
    return async_to_sync(run_first_sync)(account_id)


async def run_first_sync(account_id: int) -> str:
    owner = new_lease_owner()
    if not await sync_to_async(acquire_lease)(account_id, owner):
        return "another process is syncing this account"

    try:
        async with (
            open_session(account_id) as session,
            LeaseKeeper(account_id, owner) as keeper,
        ):
            return await FirstSync(session, keeper).run()
    except (SessionRevoked, NotLinked) as exc:
        logger.warning("account %s: session ended during sync: %r", account_id, exc)
        await sync_to_async(mark_needs_login)(account_id, needs_login_reason(exc))
        return "the provider session ended; the account needs a new login"
    except LeaseLost:
        return "another process took the sync over"
    except ProviderError as exc:
        if not exc.transient:
            reason = (
                "The sync stopped: the provider refused a request "
                f"({exc.message or exc}). Log in again to retry."
            )
            logger.warning("account %s: sync stopped: %r", account_id, exc)
            await sync_to_async(mark_error)(account_id, reason)
            return "the provider refused the sync; the account is in error"
        text = (
            f"Sync paused: the provider answered {exc.message or exc}. "
            "It resumes by itself."
        )
        await sync_to_async(set_last_error)(account_id, text)
        raise
    finally:
        await sync_to_async(release_lease)(account_id, owner)


class FirstSync:
    """One run of the first sync for one account (see the module docstring)."""

    def __init__(self, session: AccountSession, keeper: LeaseKeeper) -> None:
        self.session = session
        self.client = session.client
        self.keeper = keeper
        self.account_id = session.account_id
        self.concurrency = max(1, settings.BRIDGE_SYNC_CONCURRENCY)
        self.window = self.concurrency * 2
        self.state: SyncState
        self._changed: set[int] = set()
        self._last_progress = 0.0
        self._batch: list[Prepared] = []
        # Queue rows handled since the last write (skipped ones too).
        self._batch_rows: list[int] = []
        self._last_flush = time.monotonic()
        self.written = 0

    async def run(self) -> str:
        self.account = await sync_to_async(LinkedAccount.objects.get)(
            id=self.account_id
        )
        self.state = await sync_to_async(self._load_state)()
        started = time.monotonic()

        if self.state.phase == SyncState.Phase.DONE:
            await sync_to_async(self._finish)()
            return "already synced"

        if self.state.phase == SyncState.Phase.WAITING:
            await self._start()
        if self.state.phase == SyncState.Phase.LABELS:
            await self._labels()
        if self.state.phase == SyncState.Phase.COUNTING:
            await self._count()
        if self.state.phase == SyncState.Phase.LISTING:
            await self._list()
        written = 0
        if self.state.phase == SyncState.Phase.MESSAGES:
            written = await self._messages()
        await sync_to_async(self._finish)()

        seconds = time.monotonic() - started
        return f"synced {written} messages in {seconds:.1f} s"

    # each phase

    def _load_state(self) -> SyncState:
        state, _ = SyncState.objects.get_or_create(account_id=self.account_id)
        return state

    async def _start(self) -> None:
        # The event id comes first, so changes made while listing are
        # replayed by the event loop afterwards.
        latest = await self.client.get_latest_event_id()
        # A queue left by a sync that a provider refresh restarted is stale.
        await sync_to_async(self._clear_queue)()
        await self._save(
            phase=SyncState.Phase.LABELS,
            last_event_id=latest,
            cursor="",
            done=0,
            total=0,
            started_at=timezone.now(),
            finished_at=None,
        )
        await sync_to_async(self._record)("First sync started")

    def _clear_queue(self) -> None:
        SyncQueueItem.objects.filter(account_id=self.account_id).delete()

    async def _labels(self) -> None:
        labels = await self.client.get_labels()
        changed = await sync_to_async(self._write_labels)(labels)
        self._changed |= changed
        await self._save(phase=SyncState.Phase.COUNTING)
        await self._publish(force=True)

    def _write_labels(self, labels: list[Label]) -> set[int]:
        infos = [label_info(label) for label in labels]
        return index.sync_mailboxes(self.account, infos)

    async def _count(self) -> None:
        counts = await self.client.get_message_counts()
        total = next((c.total for c in counts if c.label_id == ALL_MAIL), 0)
        await self._save(phase=SyncState.Phase.LISTING, total=total)
        await self._publish(force=True)

    async def _list(self) -> None:
        """Queue every message's ID and time, newest first, page by page."""
        async for page in self.client.iter_message_metadata(
            after_id=self.state.cursor or None
        ):
            self.keeper.check()
            await sync_to_async(self._queue_page)(page)
            self.state.cursor = page[-1].id
            # A shutdown stops the listing here, right after a commit.
            dispatch.check_stop()

        # What is queued is what will be written; the count was an estimate.
        queued = await sync_to_async(self._queued_count)()
        await self._save(phase=SyncState.Phase.MESSAGES, total=self.state.done + queued)
        await self._publish(force=True)

    def _queue_page(self, page: list[MessageMetadata]) -> None:
        known = index.known_message_ids(self.account, [meta.id for meta in page])
        rows = [
            SyncQueueItem(
                account_id=self.account_id,
                provider_id=meta.id,
                time=datetime.fromtimestamp(meta.time, UTC),
            )
            for meta in page
            if meta.id not in known
        ]
        with transaction.atomic():
            # A page listed again after a restart adds nothing twice.
            SyncQueueItem.objects.bulk_create(rows, ignore_conflicts=True)
            SyncState.objects.filter(account_id=self.account_id).update(
                cursor=page[-1].id
            )

    def _queued_count(self) -> int:
        return SyncQueueItem.objects.filter(account_id=self.account_id).count()

    async def _messages(self) -> int:
        unlocked = await self.session.unlocked()
        limit = asyncio.Semaphore(self.concurrency)
        in_order: deque[tuple[Queued, asyncio.Task | None]] = deque()

        async def prepare(item: Queued) -> Prepared | None:
            async with limit:
                return await self._prepare(unlocked, item.provider_id)

        try:
            async for item in self._queued_oldest_first():
                # Already indexed (appended meanwhile): only its row goes.
                task = None if item.known else asyncio.create_task(prepare(item))
                in_order.append((item, task))
                while len(in_order) >= self.window:
                    await self._take_next(in_order)
            while in_order:
                await self._take_next(in_order)
            await self._flush()
        finally:
            for _, task in in_order:
                if task is not None:
                    task.cancel()

        await self._save(phase=SyncState.Phase.DONE)
        return self.written

    async def _queued_oldest_first(self) -> AsyncIterator[Queued]:
        """The queue by (time, provider ID), read a chunk at a time."""
        after: Queued | None = None
        while True:
            chunk = await sync_to_async(self._queue_chunk)(after)
            for item in chunk:
                yield item
            if len(chunk) < QUEUE_CHUNK:
                return
            after = chunk[-1]

    def _queue_chunk(self, after: Queued | None) -> list[Queued]:
        rows = SyncQueueItem.objects.filter(account_id=self.account_id).annotate(
            sort_id=bytewise("provider_id")
        )
        if after is not None:
            rows = rows.filter(
                Q(time__gt=after.time)
                | Q(time=after.time, sort_id__gt=after.provider_id)
            )
        ordered = rows.order_by("time", "sort_id")
        found = list(ordered.values_list("id", "provider_id", "time")[:QUEUE_CHUNK])
        known = index.known_message_ids(
            self.account, [provider_id for _, provider_id, _ in found]
        )
        return [
            Queued(row_id, provider_id, when, known=provider_id in known)
            for row_id, provider_id, when in found
        ]

    async def _prepare(
        self, unlocked: UnlockedAccount, message_id: str
    ) -> Prepared | None:
        try:
            return await prepare_message(self.session, message_id, unlocked)
        except NotFound:
            # Deleted since it was listed; the event loop will agree.
            logger.info("message %s vanished during the sync", message_id)
            return None
        except (CryptoError, ValueError) as exc:
            logger.warning(
                "message %s cannot be built: %s", message_id, type(exc).__name__
            )
            await sync_to_async(self._record_failure)(message_id, exc)
            return None
        except ProviderError as exc:
            if exc.transient or isinstance(exc, SessionRevoked):
                raise
            # One message the provider refuses to give must not stop the
            # rest; the event poller asks for it again later.
            logger.warning("message %s refused: %r", message_id, exc)
            await sync_to_async(self._record_failure)(message_id, exc)
            return None

    def _record_failure(self, message_id: str, exc: Exception) -> None:
        EventFailure.objects.create(
            account_id=self.account_id,
            event_id=FIRST_SYNC_FAILURE_EVENT,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            message_ids=[message_id],
        )

    async def _take_next(self, in_order: deque) -> None:
        """Wait for the oldest message in flight and add it to the batch."""
        item, task = in_order.popleft()
        prepared = await task if task is not None else None
        self.keeper.check()

        if prepared is not None:
            self._batch.append(prepared)
        # Skipped messages (known, gone, or recorded as failures) leave the
        # queue with the batch too.
        self._batch_rows.append(item.row_id)

        overdue = time.monotonic() - self._last_flush >= BATCH_SECONDS
        if len(self._batch_rows) >= BATCH_SIZE or overdue:
            await self._flush()

    async def _flush(self) -> None:
        """Write the batch and drop its queue rows, in one transaction."""
        if not self._batch_rows:
            return

        batch, rows = self._batch, self._batch_rows
        self._batch, self._batch_rows = [], []
        self._last_flush = time.monotonic()

        changed = await sync_to_async(self._write)(batch, rows)
        self._changed |= changed
        self.written += len(batch)
        self.state.done += len(batch)
        await self._publish()
        # A shutdown stops the sync here, right after a commit.
        dispatch.check_stop()

    def _write(self, batch: list[Prepared], rows: list[int]) -> set[int]:
        # The batch is in queue order, so the UIDs it gets ascend with time.
        items = [(prepared.info, prepared.content) for prepared in batch]
        with transaction.atomic():
            changed = index.upsert_messages(self.account, items)
            SyncQueueItem.objects.filter(id__in=rows).delete()
            SyncState.objects.filter(account_id=self.account_id).update(
                done=F("done") + len(batch)
            )
        return changed

    def _finish(self) -> None:
        with transaction.atomic():
            self._clear_queue()
            SyncState.objects.filter(account_id=self.account_id).update(
                phase=SyncState.Phase.DONE, finished_at=timezone.now()
            )
            LinkedAccount.objects.filter(
                id=self.account_id, state=LinkedAccount.State.SYNCING
            ).update(state=LinkedAccount.State.READY, last_error="")
        state = SyncState.objects.get(account_id=self.account_id)
        self._record(f"First sync finished: {state.done} messages")
        notify.publish_mailboxes_changed(self.account_id, sorted(self._changed))
        notify.publish_status(
            self.account_id,
            {
                "state": LinkedAccount.State.READY,
                "phase": SyncState.Phase.DONE,
                "done": state.done,
                "total": max(state.total, state.done),
            },
        )

    # bookkeeping

    async def _save(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self.state, name, value)
        await sync_to_async(
            SyncState.objects.filter(account_id=self.account_id).update
        )(**fields)

    def _record(self, text: str) -> None:
        account = LinkedAccount.objects.get(id=self.account_id)
        record_activity(account, Activity.Kind.SYNC, text)

    async def _publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_progress = now

        changed, self._changed = sorted(self._changed), set()
        status = {
            "state": LinkedAccount.State.SYNCING,
            "phase": self.state.phase,
            "done": self.state.done,
            "total": max(self.state.total, self.state.done),
        }
        await sync_to_async(_publish_progress)(self.account_id, changed, status)


def bytewise(field: str) -> Combinable:
    """A text column ordered byte by byte, whatever the database's collation.

    Provider IDs mix cases and punctuation; a language collation would sort
    them differently on each server. SQLite compares bytes already.
    """
    if connection.vendor == "postgresql":
        return Collate(field, "C")
    return F(field)


def _publish_progress(account_id: int, changed: list[int], status: dict) -> None:
    notify.publish_mailboxes_changed(account_id, changed)
    notify.publish_status(account_id, status)
