"""Changes a mail program asks for, carried out on the provider first.

Every action follows the same steps: check the official bridge's mapping
rules, call the provider, and only when the provider agreed bring the index
up to date (through :mod:`mailsync.index`) and publish the mailboxes that
changed. When the provider refuses, :class:`ActionRefused` carries its
reason and nothing local changes.

The mapping (see the provider notes, sections 1.6 to 1.8):

* STORE: \\Seen is read/unread, \\Flagged is the Starred label, $Forwarded
  is forward/unforward. \\Deleted, keywords and \\Answered (the API has no
  call to set it) are kept locally, per mailbox entry. \\Draft cannot change.
* COPY to X labels the messages with X. MOVE from A to B labels with B and
  then unlabels A when A is a label or B is a folder or system location.
* EXPUNGE in A unlabels A; in Trash or Drafts a message left without any
  other visible label is deleted for good.
* APPEND to Drafts creates a draft; anywhere else it imports the message.
* CREATE, RENAME and DELETE work only under Folders/ and Labels/.
* Nothing is copied, appended or expunged in All Mail, and nothing moves
  between INBOX and Sent.
"""

import asyncio
import email
import email.policy
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connections, transaction

from accounts.models import LinkedAccount
from mailsync import index, notify
from mailsync.models import (
    ALL_DRAFTS,
    ALL_MAIL,
    ALL_SCHEDULED,
    ALL_SENT,
    DRAFTS,
    INBOX,
    SENT,
    STARRED,
    TRASH,
    Mailbox,
    MailboxEntry,
    Message,
)
from mailsync.provider.client import ProviderClient, UnlockedAccount
from mailsync.provider.errors import CryptoError, ProviderError
from mailsync.provider.types import (
    ActionResult,
    DraftTemplate,
    EmailAddress,
    ImportRequest,
    MessageMetadata,
)

logger = logging.getLogger(__name__)

SEEN = "\\Seen"
FLAGGED = "\\Flagged"
ANSWERED = "\\Answered"
DRAFT = "\\Draft"
DELETED = "\\Deleted"
FORWARDED = "$Forwarded"

# Provider message Flags bits used on import.
IMPORT_RECEIVED = 1
IMPORT_SENT = 2
IMPORT_REPLIED = 32

# Labels that are not places a person sees (ignored when deciding whether a
# message expunged from Trash or Drafts still lives somewhere).
HIDDEN_LABELS = frozenset({ALL_MAIL, ALL_DRAFTS, ALL_SENT, ALL_SCHEDULED})
# Where nothing may be copied, appended or expunged.
VIRTUAL_LABELS = frozenset({ALL_MAIL, ALL_SCHEDULED})

# Provider label types.
LABEL_TYPE_LABEL = 1
LABEL_TYPE_FOLDER = 3

NEW_LABEL_COLOR = "#f66"
# SQLite allows 32,766 parameters per statement; stay far below.
MAX_IN_PARAMETERS = 500
METADATA_PAGE = 150


class ActionRefused(Exception):
    """The action cannot be done; the text is fit for an IMAP NO reply.

    `code` is an IMAP response code such as TRYCREATE, CANNOT or
    ALREADYEXISTS, or None.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class CopyResult:
    """What COPYUID reports: source UIDs and their UIDs in the target."""

    uidvalidity: int
    source_uids: list[int]
    target_uids: list[int]


@dataclass(frozen=True)
class AppendResult:
    """What APPENDUID reports."""

    uidvalidity: int
    uid: int


@dataclass
class _Row:
    """One selected message with what the rules look at."""

    entry_id: int
    uid: int
    message_id: int
    provider_id: str
    label_ids: list[str]
    unread: bool
    is_forwarded: bool
    deleted: bool
    keywords: list[str]
    changed_keywords: bool = False


# -- reaching the provider -------------------------------------------------------


class ProviderAccess(Protocol):
    """An authenticated client for one account, and what needs its keys."""

    client: ProviderClient

    async def unlocked(self) -> UnlockedAccount:
        """The account's unlocked keys (for import and drafts)."""
        ...

    async def index_message(self, provider_id: str) -> set[int]:
        """Download, build and index one message; changed mailbox ids."""
        ...


ProviderOpener = Callable[..., Any]


class _SessionAccess:
    """:class:`ProviderAccess` over mailsync's account session."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.client = session.client

    async def unlocked(self) -> UnlockedAccount:
        return await self._session.unlocked()

    async def index_message(self, provider_id: str) -> set[int]:
        from mailsync.sync import prepare_message

        prepared = await prepare_message(self._session, provider_id)
        account = await _in_thread(
            lambda: LinkedAccount.objects.get(id=self._session.account_id)
        )
        return await _in_thread(
            index.upsert_message, account, prepared.info, prepared.content
        )


@asynccontextmanager
async def open_provider(
    account: LinkedAccount, *, user_agent: str | None = None
) -> AsyncIterator[ProviderAccess]:
    """The default way to reach the provider: mailsync's account session.

    `user_agent` names the mail program (from IMAP ID), as the official
    bridge tells the provider.
    """
    from mailsync.session import open_session

    options = {"user_agent": user_agent} if user_agent else {}
    async with open_session(account.pk, **options) as session:
        yield _SessionAccess(session)


# -- the actions -------------------------------------------------------------------


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run ORM work in a worker thread, which keeps its connection."""
    return await sync_to_async(_with_fresh_connection, thread_sensitive=False)(
        function, *args
    )


def _with_fresh_connection(function: Callable[..., Any], *args: Any) -> Any:
    # Worker threads keep their database connection between commands. When
    # the server dropped it meanwhile, the transaction rolled back; the index
    # writes here are idempotent, so running again on a new one is safe.
    try:
        return function(*args)
    except (InterfaceError, OperationalError):
        logger.info("database connection lost; retrying on a new one")
        for connection in connections.all(initialized_only=True):
            connection.close()
        return function(*args)


async def _publish(account_id: int, mailbox_ids: Iterable[int]) -> None:
    ids = sorted(set(mailbox_ids))
    if ids:
        await notify.publish_async(account_id, "mailbox.changed", {"mailboxes": ids})


def _refusal(error: ProviderError | CryptoError, doing: str) -> ActionRefused:
    reason = str(getattr(error, "message", "") or error) or type(error).__name__
    logger.info("provider refused to %s: %s", doing, reason)
    return ActionRefused(f"The provider refused to {doing}: {reason}")


class MailActions:
    """Provider-side changes for one login (account, and address in split mode).

    `opener` is an async context manager factory giving a
    :class:`ProviderAccess`; tests hand in one over the reference provider.
    """

    def __init__(
        self,
        account: LinkedAccount,
        address_id: str | None = None,
        *,
        opener: ProviderOpener = open_provider,
    ) -> None:
        self.account = account
        self.address_id = address_id
        self._opener = opener
        # "name/version" of the mail program, once it said so with IMAP ID.
        self.user_agent: str | None = None

    @asynccontextmanager
    async def _provider(self) -> AsyncIterator[ProviderAccess]:
        """The provider for this account; a missing session is a refusal."""
        from mailsync.session import NotLinked

        try:
            opened = self._opener(self.account, user_agent=self.user_agent)
            access = await opened.__aenter__()
        except NotLinked as error:
            raise ActionRefused(
                "The account is not connected to the provider; log in again "
                "on the dashboard",
                code="UNAVAILABLE",
            ) from error
        except ProviderError as error:
            raise _refusal(error, "connect") from error

        try:
            yield access
        except BaseException as error:
            if not await opened.__aexit__(type(error), error, error.__traceback__):
                raise
        else:
            await opened.__aexit__(None, None, None)

    # -- STORE -------------------------------------------------------------------

    async def store(
        self, mailbox_id: int, uids: Sequence[int], mode: str, flags: Iterable[str]
    ) -> None:
        """Apply STORE; `mode` is "replace", "add" or "remove"."""
        flags = set(flags)
        rows = await _in_thread(self._load_rows, mailbox_id, uids)
        if not rows:
            return

        def wanted(flag: str, current: bool) -> bool:
            if mode == "replace":
                return flag in flags
            if flag not in flags:
                return current
            return mode == "add"

        to_read: list[str] = []
        to_unread: list[str] = []
        to_star: list[str] = []
        to_unstar: list[str] = []
        to_forward: list[str] = []
        to_unforward: list[str] = []
        for row in rows:
            seen = wanted(SEEN, not row.unread)
            if seen == row.unread:
                (to_read if seen else to_unread).append(row.provider_id)

            starred = STARRED in row.label_ids
            if wanted(FLAGGED, starred) != starred:
                (to_unstar if starred else to_star).append(row.provider_id)

            forwarded = wanted(FORWARDED, row.is_forwarded)
            if forwarded != row.is_forwarded:
                (to_forward if forwarded else to_unforward).append(row.provider_id)

            self._apply_local_flags(row, mode, flags)

        done: dict[str, set[str]] = {}
        failure: ActionRefused | None = None
        steps: list[tuple[str, list[str], Callable[[Any, list[str]], Awaitable]]] = [
            ("read", to_read, lambda client, ids: client.mark_read(ids)),
            ("unread", to_unread, lambda client, ids: client.mark_unread(ids)),
            ("star", to_star, lambda client, ids: client.label_messages(ids, STARRED)),
            (
                "unstar",
                to_unstar,
                lambda client, ids: client.unlabel_messages(ids, STARRED),
            ),
            ("forward", to_forward, lambda client, ids: client.mark_forwarded(ids)),
            (
                "unforward",
                to_unforward,
                lambda client, ids: client.mark_unforwarded(ids),
            ),
        ]
        if any(ids for _, ids, _ in steps):
            async with self._provider() as access:
                for name, ids, call in steps:
                    if not ids:
                        continue
                    try:
                        result = await call(access.client, ids)
                    except ProviderError as error:
                        failure = _refusal(error, "change the flags")
                        break
                    succeeded, refused = _split_results(ids, result)
                    done[name] = succeeded
                    if refused:
                        failure = ActionRefused(
                            f"The provider refused to change the flags: {refused}"
                        )
                        break

        # On failure only what the provider did is recorded; local flags of
        # the same command stay as they were.
        local_rows = [] if failure is not None else rows
        changed = await _in_thread(self._write_store, mailbox_id, local_rows, done)
        await _publish(self.account.pk, changed)
        if failure is not None:
            raise failure

    def _apply_local_flags(self, row: _Row, mode: str, flags: set[str]) -> None:
        local = {flag for flag in flags if flag not in (SEEN, FLAGGED, FORWARDED)}
        local.discard(DRAFT)
        keywords = set(row.keywords)
        deleted = row.deleted

        if mode == "replace":
            deleted = DELETED in local
            keywords = local - {DELETED}
        elif mode == "add":
            deleted = deleted or DELETED in local
            keywords |= local - {DELETED}
        else:
            deleted = deleted and DELETED not in local
            keywords -= local

        if deleted != row.deleted or keywords != set(row.keywords):
            row.deleted = deleted
            row.keywords = sorted(keywords)
            row.changed_keywords = True

    def _write_store(
        self, mailbox_id: int, rows: list[_Row], done: dict[str, set[str]]
    ) -> set[int]:
        changed: set[int] = set()
        with transaction.atomic():
            local = [row for row in rows if row.changed_keywords]
            if local:
                # Local flags are this module's own state, kept on the entry
                # the session shows; the provider never sees them.
                entries = [
                    MailboxEntry(
                        id=row.entry_id, deleted=row.deleted, keywords=row.keywords
                    )
                    for row in local
                ]
                MailboxEntry.objects.bulk_update(entries, ["deleted", "keywords"])
                changed.add(mailbox_id)

            touched = sorted(set().union(*done.values())) if done else []
            messages = [
                message
                for start in range(0, len(touched), MAX_IN_PARAMETERS)
                for message in Message.objects.filter(
                    account=self.account,
                    provider_id__in=touched[start : start + MAX_IN_PARAMETERS],
                )
            ]
            for message in messages:
                info = _info_from_message(message)
                pid = message.provider_id
                if pid in done.get("read", ()):
                    info.unread = False
                if pid in done.get("unread", ()):
                    info.unread = True
                if pid in done.get("star", ()):
                    info.label_ids = sorted(set(info.label_ids) | {STARRED})
                if pid in done.get("unstar", ()):
                    info.label_ids = [i for i in info.label_ids if i != STARRED]
                if pid in done.get("forward", ()):
                    info.is_forwarded = True
                if pid in done.get("unforward", ()):
                    info.is_forwarded = False
                changed |= index.update_message(self.account, info) or set()
        return changed

    # -- COPY and MOVE -----------------------------------------------------------

    async def copy(
        self, source_id: int, uids: Sequence[int], target_name: str
    ) -> CopyResult:
        """COPY: label the messages with the target's label."""
        source, target = await _in_thread(self._copy_mailboxes, source_id, target_name)
        if target.label_id in VIRTUAL_LABELS:
            raise ActionRefused(
                f"Messages cannot be copied to {target.name}", code="CANNOT"
            )
        if {source.label_id, target.label_id} == {INBOX, SENT}:
            # The provider files mail by its kind: a copy would silently stay
            # where it was.
            raise ActionRefused(
                "Messages cannot be copied between INBOX and Sent", code="CANNOT"
            )

        rows = await _in_thread(self._load_rows, source_id, uids)
        if not rows:
            return CopyResult(target.uidvalidity, [], [])

        ids = [row.provider_id for row in rows]
        async with self._provider() as access:
            await self._label(access, ids, target.label_id, "copy the messages")
            metadata = await self._reread(access, ids)

        changed = await _in_thread(self._apply_metadata, rows, metadata)
        await _publish(self.account.pk, changed)
        return await _in_thread(self._copy_result, rows, target.id)

    async def move(
        self, source_id: int, uids: Sequence[int], target_name: str
    ) -> CopyResult:
        """MOVE: label with the target, then unlabel the source if the rules say.

        Messages that keep their source label (a move from a folder into a
        label) stay in the source mailbox, as with the official bridge.
        """
        source, target = await _in_thread(self._copy_mailboxes, source_id, target_name)
        if source.label_id == ALL_MAIL or target.label_id in VIRTUAL_LABELS:
            raise ActionRefused(
                "Messages cannot be moved into or out of All Mail", code="CANNOT"
            )
        if {source.label_id, target.label_id} == {INBOX, SENT}:
            raise ActionRefused(
                "Messages cannot be moved between INBOX and Sent", code="CANNOT"
            )

        rows = await _in_thread(self._load_rows, source_id, uids)
        if not rows:
            return CopyResult(target.uidvalidity, [], [])

        ids = [row.provider_id for row in rows]
        unlabel_source = source.kind == Mailbox.Kind.LABEL or target.kind in (
            Mailbox.Kind.FOLDER,
            Mailbox.Kind.SYSTEM,
        )
        async with self._provider() as access:
            await self._label(access, ids, target.label_id, "move the messages")
            if unlabel_source:
                await self._unlabel(access, ids, source.label_id, "move the messages")
            metadata = await self._reread(access, ids)

        changed = await _in_thread(self._apply_metadata, rows, metadata)
        await _publish(self.account.pk, changed)
        return await _in_thread(self._copy_result, rows, target.id)

    def _copy_mailboxes(self, source_id: int, target_name: str) -> tuple:
        source = Mailbox.objects.get(id=source_id, account=self.account)
        target = Mailbox.objects.filter(account=self.account, name=target_name).first()
        if target is None:
            raise ActionRefused(f"No mailbox named {target_name}", code="TRYCREATE")
        if target.kind == Mailbox.Kind.PLACEHOLDER:
            raise ActionRefused(f"{target_name} cannot hold messages", code="CANNOT")
        if target.id == source.id:
            # A mailbox is a label here and holds each message once; answering
            # OK with a COPYUID would name copies that do not exist.
            raise ActionRefused(
                f"The messages are already in {target_name}", code="CANNOT"
            )
        return source, target

    def _copy_result(self, rows: list[_Row], target_id: int) -> CopyResult:
        target = Mailbox.objects.get(id=target_id)
        uid_of = dict(
            MailboxEntry.objects.filter(
                mailbox_id=target_id, message_id__in=[row.message_id for row in rows]
            ).values_list("message_id", "uid")
        )
        pairs = sorted(
            (row.uid, uid_of[row.message_id])
            for row in rows
            if row.message_id in uid_of
        )
        return CopyResult(
            target.uidvalidity,
            [source for source, _ in pairs],
            [copied for _, copied in pairs],
        )

    # -- EXPUNGE -----------------------------------------------------------------

    async def expunge(self, mailbox_id: int, uids: Sequence[int] | None) -> None:
        """Remove the \\Deleted messages (of `uids`, if given) from the mailbox.

        The mailbox's label comes off; in Trash and Drafts a message with no
        other visible label is deleted on the provider for good.
        """
        mailbox = await _in_thread(
            lambda: Mailbox.objects.get(id=mailbox_id, account=self.account)
        )
        rows = await _in_thread(self._load_rows, mailbox_id, uids, True)
        if not rows:
            return
        if mailbox.label_id == ALL_MAIL:
            raise ActionRefused(
                "Messages cannot be expunged from All Mail", code="CANNOT"
            )

        removable = {TRASH, DRAFTS}
        doomed = []
        unlabel = []
        for row in rows:
            others = set(row.label_ids) - HIDDEN_LABELS - {mailbox.label_id}
            if mailbox.label_id in removable and not others:
                doomed.append(row.provider_id)
            else:
                unlabel.append(row.provider_id)

        async with self._provider() as access:
            if unlabel:
                await self._unlabel(
                    access, unlabel, mailbox.label_id, "expunge the messages"
                )
            if doomed:
                try:
                    await access.client.delete_messages(doomed)
                except ProviderError as error:
                    # The unlabelled ones are gone from this mailbox already.
                    metadata = await self._reread(access, unlabel)
                    changed = await _in_thread(self._apply_metadata, rows, metadata)
                    await _publish(self.account.pk, changed)
                    raise _refusal(error, "delete the messages") from error
            metadata = await self._reread(access, unlabel)

        changed = await _in_thread(self._apply_expunge, rows, metadata, doomed)
        await _publish(self.account.pk, changed)

    def _apply_expunge(
        self, rows: list[_Row], metadata: dict[str, MessageMetadata], doomed: list[str]
    ) -> set[int]:
        with transaction.atomic():
            changed = self._apply_metadata(rows, metadata)
            for provider_id in doomed:
                changed |= index.delete_message(self.account, provider_id)
        return changed

    # -- APPEND --------------------------------------------------------------------

    async def append(
        self,
        mailbox_name: str,
        raw: bytes,
        flags: Iterable[str] = (),
        internal_date: datetime | None = None,
    ) -> AppendResult:
        """APPEND: a draft in Drafts, an import anywhere else."""
        flags = set(flags)
        if not raw.strip():
            raise ActionRefused("An empty message cannot be stored", code="CANNOT")
        mailbox = await _in_thread(self._append_target, mailbox_name)

        if mailbox.label_id == SENT:
            resent = await self._recently_sent(raw)
            if resent is not None:
                return await self._append_existing(mailbox, resent, flags)

        async with self._provider() as access:
            unlocked = await access.unlocked()
            address_id = self._address_for(raw, unlocked)
            if mailbox.label_id == DRAFTS:
                provider_id = await self._create_draft(
                    access, unlocked, address_id, raw
                )
            else:
                provider_id = await self._import(
                    access, unlocked, address_id, mailbox, raw, flags
                )
            try:
                changed = await access.index_message(provider_id)
            except (ProviderError, CryptoError) as error:
                raise _refusal(error, "return the stored message") from error

        result, local_changed = await _in_thread(
            self._finish_append, mailbox.id, provider_id, flags, internal_date
        )
        await _publish(self.account.pk, changed | local_changed)
        return result

    def _append_target(self, name: str) -> Mailbox:
        mailbox = Mailbox.objects.filter(account=self.account, name=name).first()
        if mailbox is None:
            raise ActionRefused(f"No mailbox named {name}", code="TRYCREATE")
        if mailbox.kind == Mailbox.Kind.PLACEHOLDER:
            raise ActionRefused(f"{name} cannot hold messages", code="CANNOT")
        if mailbox.label_id in VIRTUAL_LABELS:
            raise ActionRefused(f"Messages cannot be appended to {name}", code="CANNOT")
        return mailbox

    async def _recently_sent(self, raw: bytes) -> str | None:
        from mailsync.sendrecorder import recent_sent_message_async

        return await recent_sent_message_async(self.account, raw)

    async def _append_existing(
        self, mailbox: Mailbox, provider_id: str, flags: set[str]
    ) -> AppendResult:
        # The message was just sent over SMTP: the provider's Sent copy is
        # the one to show, not a second import.
        logger.info("APPEND to Sent matched a message sent just now")
        indexed = await _in_thread(
            lambda: Message.objects.filter(
                account=self.account, provider_id=provider_id, entries__mailbox=mailbox
            ).exists()
        )
        changed: set[int] = set()
        if not indexed:
            async with self._provider() as access:
                try:
                    changed = await access.index_message(provider_id)
                except (ProviderError, CryptoError) as error:
                    raise _refusal(error, "return the sent message") from error

        result, local_changed = await _in_thread(
            self._finish_append, mailbox.id, provider_id, flags
        )
        await _publish(self.account.pk, changed | local_changed)
        return result

    def _address_for(self, raw: bytes, unlocked: UnlockedAccount) -> str:
        """The address a message belongs to: From or Sender, else the login's."""
        if self.address_id:
            return self.address_id

        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        for header in ("From", "Sender"):
            for _, address in getaddresses(parsed.get_all(header, [])):
                found = unlocked.address_by_email(_strip_plus(address))
                if found is not None and found.enabled:
                    return found.id

        enabled = [address for address in unlocked.addresses if address.enabled]
        if not enabled:
            raise ActionRefused("The account has no enabled address")
        return min(enabled, key=lambda address: address.order).id

    async def _import(
        self,
        access: ProviderAccess,
        unlocked: UnlockedAccount,
        address_id: str,
        mailbox: Mailbox,
        raw: bytes,
        flags: set[str],
    ) -> str:
        import_flags = _import_flags(mailbox.label_id, raw)
        if ANSWERED in flags:
            import_flags |= IMPORT_REPLIED

        label_ids = [mailbox.label_id]
        if FLAGGED in flags and mailbox.label_id != STARRED:
            label_ids.append(STARRED)

        request = ImportRequest(
            message=raw,
            address_id=address_id,
            label_ids=label_ids,
            unread=SEEN not in flags,
            flags=import_flags,
        )
        try:
            results = await access.client.import_messages(
                unlocked.keyring(address_id), [request]
            )
        except (ProviderError, CryptoError) as error:
            raise _refusal(error, "import the message") from error

        result = results[0]
        if not result.ok:
            reason = result.error or f"code {result.code}"
            raise ActionRefused(f"The provider refused to import the message: {reason}")
        return result.message_id

    async def _create_draft(
        self,
        access: ProviderAccess,
        unlocked: UnlockedAccount,
        address_id: str,
        raw: bytes,
    ) -> str:
        """Save a message as a draft: body, then each attachment."""
        from mailsync.send import parse_message

        keyring = unlocked.keyring(address_id)
        address = next(a for a in unlocked.addresses if a.id == address_id)
        outgoing = parse_message(raw)
        # A draft is always from one of the account's own addresses; keep
        # the name the mail program wrote when the address is that one.
        name = address.display_name
        if outgoing.sender and outgoing.sender.address.lower() == address.email.lower():
            name = outgoing.sender.name or name
        sender = EmailAddress(address.email, name)
        try:
            body = await asyncio.to_thread(
                keyring.encrypt, outgoing.body.encode("utf-8")
            )
            draft = await access.client.create_draft(
                DraftTemplate(
                    subject=outgoing.subject,
                    sender=sender,
                    to_list=outgoing.to_list,
                    cc_list=outgoing.cc_list,
                    bcc_list=outgoing.bcc_list,
                    body=body,
                    mime_type=outgoing.mime_type,
                    external_id=outgoing.message_id,
                )
            )
            for attachment in outgoing.attachments:
                split = await asyncio.to_thread(keyring.encrypt_split, attachment.data)
                signature = await asyncio.to_thread(
                    keyring.sign_detached, attachment.data
                )
                await access.client.upload_attachment(
                    draft.id,
                    filename=attachment.filename,
                    mime_type=attachment.mime_type,
                    split=split,
                    signature=signature,
                    disposition=attachment.disposition,
                    content_id=attachment.content_id,
                )
        except (ProviderError, CryptoError) as error:
            raise _refusal(error, "save the draft") from error
        return draft.id

    def _finish_append(
        self,
        mailbox_id: int,
        provider_id: str,
        flags: set[str],
        internal_date: datetime | None = None,
    ) -> tuple[AppendResult, set[int]]:
        mailbox = Mailbox.objects.get(id=mailbox_id)
        entry = (
            MailboxEntry.objects.filter(
                mailbox_id=mailbox_id,
                message__account=self.account,
                message__provider_id=provider_id,
            )
            .order_by("-uid")
            .first()
        )
        if entry is None:
            # The provider put the message elsewhere (a refused label).
            raise ActionRefused(
                f"The provider stored the message, but not in {mailbox.name}"
            )

        local = {flag for flag in flags if flag not in (SEEN, FLAGGED, FORWARDED)}
        local.discard(DRAFT)
        local.discard(ANSWERED)
        changed: set[int] = set()

        if internal_date is not None:
            # The provider's import has no field for it; keep the date the
            # mail program gave, as RFC 3501 asks of APPEND.
            Message.objects.filter(id=entry.message_id).update(
                internal_date=internal_date
            )
        deleted = DELETED in local
        keywords = sorted(local - {DELETED})
        if deleted != entry.deleted or keywords != sorted(entry.keywords or []):
            entry.deleted = deleted
            entry.keywords = keywords
            entry.save(update_fields=["deleted", "keywords"])
            changed.add(mailbox_id)
        return AppendResult(mailbox.uidvalidity, entry.uid), changed

    # -- CREATE, RENAME, DELETE --------------------------------------------------------

    async def create_mailbox(self, name: str) -> None:
        """CREATE under Folders/ (nested, the parent must exist) or Labels/."""
        name = name.rstrip("/")
        label_type, leaf, parent_id = await _in_thread(self._new_place, name)

        async with self._provider() as access:
            try:
                await access.client.create_label(
                    leaf,
                    label_type,
                    color=NEW_LABEL_COLOR,
                    parent_id=parent_id or None,
                )
            except ProviderError as error:
                raise _refusal(error, f"create {name}") from error
            changed = await self._resync_labels(access)

        # CREATE does not subscribe (RFC 3501 §6.3.3); mailboxes that come
        # from the provider start subscribed, this one waits for SUBSCRIBE.
        await _in_thread(
            lambda: Mailbox.objects.filter(account=self.account, name=name).update(
                subscribed=False
            )
        )
        await _publish(self.account.pk, changed)

    async def rename_mailbox(self, old_name: str, new_name: str) -> None:
        """RENAME within Folders/ or within Labels/."""
        new_name = new_name.rstrip("/")
        mailbox = await _in_thread(self._user_mailbox, old_name)
        label_type, leaf, parent_id = await _in_thread(self._new_place, new_name)
        expected_kind = (
            Mailbox.Kind.FOLDER
            if label_type == LABEL_TYPE_FOLDER
            else Mailbox.Kind.LABEL
        )
        if mailbox.kind != expected_kind:
            raise ActionRefused(
                "A folder stays under Folders/ and a label under Labels/",
                code="CANNOT",
            )
        if mailbox.kind == Mailbox.Kind.FOLDER and (new_name + "/").startswith(
            old_name + "/"
        ):
            raise ActionRefused("A folder cannot move into itself", code="CANNOT")

        async with self._provider() as access:
            try:
                await access.client.update_label(
                    mailbox.label_id,
                    name=leaf,
                    color=mailbox.color or NEW_LABEL_COLOR,
                    parent_id=parent_id if label_type == LABEL_TYPE_FOLDER else None,
                )
            except ProviderError as error:
                raise _refusal(error, f"rename {old_name}") from error
            changed = await self._resync_labels(access)
        await _publish(self.account.pk, changed)

    async def delete_mailbox(self, name: str) -> None:
        """DELETE of a folder or label (the messages stay in All Mail)."""
        mailbox = await _in_thread(self._user_mailbox, name)
        async with self._provider() as access:
            try:
                await access.client.delete_label(mailbox.label_id)
            except ProviderError as error:
                raise _refusal(error, f"delete {name}") from error
            changed = await self._resync_labels(access)
        await _publish(self.account.pk, changed | {mailbox.id})

    def _user_mailbox(self, name: str) -> Mailbox:
        mailbox = Mailbox.objects.filter(account=self.account, name=name).first()
        if mailbox is None:
            raise ActionRefused(f"No mailbox named {name}", code="NONEXISTENT")
        if mailbox.kind not in (Mailbox.Kind.FOLDER, Mailbox.Kind.LABEL):
            raise ActionRefused(f"{name} cannot be changed", code="CANNOT")
        return mailbox

    def _new_place(self, name: str) -> tuple[int, str, str]:
        """(label type, leaf name, parent label id) for a new mailbox name."""
        if Mailbox.objects.filter(account=self.account, name=name).exists():
            raise ActionRefused(f"{name} already exists", code="ALREADYEXISTS")

        root, _, rest = name.partition("/")
        if not rest or any(not piece.strip() for piece in rest.split("/")):
            raise ActionRefused(
                "New mailboxes go under Folders/ or Labels/", code="CANNOT"
            )
        if any(piece != piece.strip() for piece in rest.split("/")):
            # The provider trims names, so the mailbox made would not be
            # the one the mail program asked for.
            raise ActionRefused(
                "Folder and label names cannot start or end with a space",
                code="CANNOT",
            )

        if root == index.LABELS_ROOT:
            if "/" in rest:
                raise ActionRefused("A label cannot have children", code="CANNOT")
            return LABEL_TYPE_LABEL, rest, ""

        if root == index.FOLDERS_ROOT:
            parent_name, _, leaf = name.rpartition("/")
            if parent_name == index.FOLDERS_ROOT:
                return LABEL_TYPE_FOLDER, leaf, ""
            parent = Mailbox.objects.filter(
                account=self.account, name=parent_name, kind=Mailbox.Kind.FOLDER
            ).first()
            if parent is None:
                raise ActionRefused(
                    f"The parent folder {parent_name} does not exist",
                    code="NONEXISTENT",
                )
            return LABEL_TYPE_FOLDER, leaf, parent.label_id

        raise ActionRefused("New mailboxes go under Folders/ or Labels/", code="CANNOT")

    async def _resync_labels(self, access: ProviderAccess) -> set[int]:
        # The provider's own list is the truth (it may rename children or
        # delete them along); take it whole rather than guess.
        try:
            labels = await access.client.get_labels(LABEL_TYPE_LABEL, LABEL_TYPE_FOLDER)
        except ProviderError as error:
            logger.warning("could not re-read labels after a change: %s", error)
            return set()

        infos = [
            index.LabelInfo(
                label_id=label.id,
                name=label.name,
                label_type=label.type,
                parent_id=label.parent_id,
                path=label.path,
                color=label.color,
            )
            for label in labels
        ]
        return await _in_thread(index.sync_mailboxes, self.account, infos)

    # -- shared steps ------------------------------------------------------------------

    def _load_rows(
        self, mailbox_id: int, uids: Sequence[int] | None, deleted_only: bool = False
    ) -> list[_Row]:
        entries = MailboxEntry.objects.filter(
            mailbox_id=mailbox_id, mailbox__account=self.account
        )
        if self.address_id is not None:
            entries = entries.filter(message__address_id=self.address_id)
        if deleted_only:
            entries = entries.filter(deleted=True)
        if uids is not None:
            wanted = set(uids)
            if not wanted:
                return []
            entries = entries.filter(uid__gte=min(wanted), uid__lte=max(wanted))
        else:
            wanted = None

        rows = []
        for value in entries.order_by("uid").values(
            "id",
            "uid",
            "message_id",
            "message__provider_id",
            "message__label_ids",
            "message__unread",
            "message__is_forwarded",
            "deleted",
            "keywords",
        ):
            if wanted is not None and value["uid"] not in wanted:
                continue
            rows.append(
                _Row(
                    entry_id=value["id"],
                    uid=value["uid"],
                    message_id=value["message_id"],
                    provider_id=value["message__provider_id"],
                    label_ids=list(value["message__label_ids"] or []),
                    unread=value["message__unread"],
                    is_forwarded=value["message__is_forwarded"],
                    deleted=value["deleted"],
                    keywords=list(value["keywords"] or []),
                )
            )
        return rows

    async def _label(
        self, access: ProviderAccess, ids: list[str], label_id: str, doing: str
    ) -> None:
        try:
            results = await access.client.label_messages(ids, label_id)
        except ProviderError as error:
            raise _refusal(error, doing) from error
        _, refused = _split_results(ids, results)
        if refused:
            raise ActionRefused(f"The provider refused to {doing}: {refused}")

    async def _unlabel(
        self, access: ProviderAccess, ids: list[str], label_id: str, doing: str
    ) -> None:
        try:
            results = await access.client.unlabel_messages(ids, label_id)
        except ProviderError as error:
            raise _refusal(error, doing) from error
        _, refused = _split_results(ids, results)
        if refused:
            raise ActionRefused(f"The provider refused to {doing}: {refused}")

    async def _reread(
        self, access: ProviderAccess, ids: list[str]
    ) -> dict[str, MessageMetadata]:
        """The provider's view of the messages after a label change.

        Which locations a message keeps after a label call is the provider's
        rule (a folder replaces the previous one); reading it back keeps the
        index exact instead of re-implementing that rule here.
        """
        found: dict[str, MessageMetadata] = {}
        for start in range(0, len(ids), METADATA_PAGE):
            chunk = ids[start : start + METADATA_PAGE]
            try:
                page, _ = await access.client.list_messages(
                    ids=chunk, page_size=METADATA_PAGE
                )
            except ProviderError as error:
                # The change happened; the event feed will bring the details.
                logger.warning("could not re-read messages after a change: %s", error)
                return found
            found.update((meta.id, meta) for meta in page if meta.id in chunk)
        return found

    def _apply_metadata(
        self, rows: list[_Row], metadata: dict[str, MessageMetadata]
    ) -> set[int]:
        changed: set[int] = set()
        with transaction.atomic():
            for meta in metadata.values():
                changed |= (
                    index.update_message(self.account, _info_from_meta(meta)) or set()
                )
        return changed


# -- helpers -----------------------------------------------------------------------


def _split_results(
    ids: list[str], results: list[ActionResult] | None
) -> tuple[set[str], str]:
    """Which ids the provider took, and a short text of what it refused."""
    if not results:
        return set(ids), ""

    refused = [result for result in results if not result.ok]
    succeeded = set(ids) - {result.id for result in refused}
    if not refused:
        return succeeded, ""
    reasons = sorted({result.error or f"code {result.code}" for result in refused})
    return succeeded, "; ".join(reasons)[:200]


def _info_from_message(message: Message) -> index.MessageInfo:
    return index.MessageInfo(
        provider_id=message.provider_id,
        label_ids=list(message.label_ids or []),
        address_id=message.address_id,
        external_id=message.external_id,
        unread=message.unread,
        flags=message.provider_flags,
        is_replied=message.is_replied,
        is_replied_all=message.is_replied_all,
        is_forwarded=message.is_forwarded,
        time=message.internal_date,
    )


def _info_from_meta(meta: MessageMetadata) -> index.MessageInfo:
    return index.MessageInfo(
        provider_id=meta.id,
        label_ids=list(meta.label_ids),
        address_id=meta.address_id,
        external_id=meta.external_id,
        unread=meta.unread,
        flags=meta.flags,
        is_replied=meta.is_replied,
        is_replied_all=meta.is_replied_all,
        is_forwarded=meta.is_forwarded,
        time=datetime.fromtimestamp(meta.time, UTC),
    )


def _import_flags(label_id: str, raw: bytes) -> int:
    """Received into INBOX, Sent into Sent; elsewhere by the Received header."""
    if label_id == INBOX:
        return IMPORT_RECEIVED
    if label_id == SENT:
        return IMPORT_SENT

    header_end = raw.find(b"\r\n\r\n")
    if header_end < 0:
        header_end = raw.find(b"\n\n")
    header = raw if header_end < 0 else raw[:header_end]
    parsed = email.message_from_bytes(
        header + b"\r\n\r\n", policy=email.policy.compat32
    )
    return IMPORT_RECEIVED if parsed.get("Received") is not None else IMPORT_SENT


def _strip_plus(address: str) -> str:
    local, at, domain = address.partition("@")
    if not at:
        return address
    return local.split("+", 1)[0] + "@" + domain


__all__ = [
    "ActionRefused",
    "AppendResult",
    "CopyResult",
    "MailActions",
    "ProviderAccess",
    "open_provider",
]
