"""The mailbox store: what an IMAP session reads, over the index models.

A session never touches the ORM. It asks a :class:`MailboxStore` bound to
the logged-in user (one linked account, and in split mode one address of
it) for mailboxes, counts, the selected mailbox's snapshot and the rows a
FETCH or SEARCH needs. Everything a store returns is a plain value that can
cross threads; the ORM work runs in worker threads.

Flags are not stored as IMAP flags: they are derived from the provider's
state of the message and from what the index keeps locally per mailbox
entry (see :func:`message_flags`). Changing anything goes through
:mod:`mailsync.actions`, never through the store.
"""

import abc
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connections
from django.db.models import Max, Q
from django.utils import timezone

from mailsync import cache
from mailsync.index import FOLDERS_ROOT, LABELS_ROOT, SYSTEM_MAILBOXES
from mailsync.models import (
    ALL_MAIL,
    FLAG_RECEIVED,
    FLAG_SENT,
    STARRED,
    CachedMessage,
    Mailbox,
    MailboxEntry,
    Message,
)

logger = logging.getLogger(__name__)

SEEN = "\\Seen"
FLAGGED = "\\Flagged"
ANSWERED = "\\Answered"
DRAFT = "\\Draft"
DELETED = "\\Deleted"
RECENT = "\\Recent"
FORWARDED = "$Forwarded"

# What FLAGS announces on SELECT, besides keywords in use.
SYSTEM_FLAGS = (ANSWERED, FLAGGED, DELETED, SEEN, DRAFT)

# Rows read per query when a command touches many messages: big enough that
# 10,000 messages take a few dozen queries, small enough to bound memory.
FETCH_BATCH = 250

# SQLite allows 32,766 parameters per statement; stay far below.
MAX_IN_PARAMETERS = 500

_SYSTEM_ORDER = {
    label_id: position for position, (label_id, _, _) in enumerate(SYSTEM_MAILBOXES)
}

T = TypeVar("T")


# -- values the store hands out ------------------------------------------------


@dataclass(frozen=True, slots=True)
class MailboxInfo:
    """One mailbox as LIST shows it. Placeholders have no id."""

    id: int | None
    name: str
    kind: str
    label_id: str
    special_use: str
    uidvalidity: int
    uidnext: int
    subscribed: bool
    has_children: bool

    @property
    def selectable(self) -> bool:
        return self.id is not None and self.kind != Mailbox.Kind.PLACEHOLDER

    @property
    def is_all_mail(self) -> bool:
        return self.label_id == ALL_MAIL

    def attributes(self) -> tuple[str, ...]:
        """LIST attributes: \\Noselect, children, then the special use."""
        attributes = []
        if not self.selectable:
            attributes.append("\\Noselect")
        attributes.append("\\HasChildren" if self.has_children else "\\HasNoChildren")
        if self.special_use:
            attributes.append(self.special_use)
        return tuple(attributes)


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    """The numbers STATUS and SELECT report."""

    messages: int
    recent: int
    unseen: int
    uidnext: int
    uidvalidity: int
    size: int
    deleted: int
    # Sequence number of the first message without \Seen, for SELECT.
    first_unseen: int | None


@dataclass(frozen=True, slots=True)
class MessageState:
    """A message as the selected mailbox lists it."""

    uid: int
    message_id: int
    flags: frozenset[str]


@dataclass(slots=True)
class Snapshot:
    """The messages of a mailbox at one moment, ascending by UID."""

    mailbox: MailboxInfo
    messages: list[MessageState]
    # UIDs that are \Recent for the session that took this snapshot.
    recent: frozenset[int] = frozenset()

    @property
    def uids(self) -> list[int]:
        return [state.uid for state in self.messages]


@dataclass(slots=True)
class FetchRow:
    """What FETCH may need of one message; unrequested parts stay empty."""

    uid: int
    message_id: int
    flags: frozenset[str]
    provider_id: str = ""
    size: int = 0
    internal_date: datetime | None = None
    envelope: bytes = b""
    bodystructure: bytes = b""
    body: bytes = b""
    parts: dict[str, Any] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass(slots=True)
class SearchRow:
    """What SEARCH may need of one message."""

    uid: int
    message_id: int
    flags: frozenset[str]
    size: int
    internal_date: datetime | None
    sent_date: datetime | None
    # Decoded header fields and body text; filled only when a key needs it.
    text: dict[str, Any] | None = None


# Columns FETCH may ask for, besides the flags and UID it always gets.
FETCH_COLUMNS = frozenset(
    {"size", "internal_date", "envelope", "bodystructure", "body", "parts", "raw"}
)


# -- flags ---------------------------------------------------------------------


def message_flags(
    *,
    unread: bool,
    label_ids: Iterable[str],
    provider_flags: int,
    is_replied: bool,
    is_replied_all: bool,
    is_forwarded: bool,
    deleted: bool,
    keywords: Iterable[str],
) -> frozenset[str]:
    """The IMAP flags of a message in one mailbox.

    \\Seen, \\Flagged (label 10), \\Draft, \\Answered and $Forwarded come
    from the provider; \\Deleted and keywords are kept per mailbox entry.
    A local \\Answered (the provider has no call to set it) is a keyword.
    """
    flags = set(keywords)
    if not unread:
        flags.add(SEEN)
    if STARRED in label_ids:
        flags.add(FLAGGED)
    if not provider_flags & (FLAG_RECEIVED | FLAG_SENT):
        flags.add(DRAFT)
    if is_replied or is_replied_all:
        flags.add(ANSWERED)
    if is_forwarded:
        flags.add(FORWARDED)
    if deleted:
        flags.add(DELETED)
    return frozenset(flags)


_FLAG_COLUMNS = (
    "uid",
    "message_id",
    "deleted",
    "keywords",
    "message__unread",
    "message__label_ids",
    "message__provider_flags",
    "message__is_replied",
    "message__is_replied_all",
    "message__is_forwarded",
)


def _flags_from_values(values: dict[str, Any]) -> frozenset[str]:
    return message_flags(
        unread=values["message__unread"],
        label_ids=values["message__label_ids"] or (),
        provider_flags=values["message__provider_flags"],
        is_replied=values["message__is_replied"],
        is_replied_all=values["message__is_replied_all"],
        is_forwarded=values["message__is_forwarded"],
        deleted=values["deleted"],
        keywords=values["keywords"] or (),
    )


# -- \Recent -------------------------------------------------------------------


class RecentTracker:
    """Hands each new UID's \\Recent to exactly one session (RFC 3501 §2.3.2).

    Kept in this process's memory: a message is recent for the first session
    of this process that sees it. Messages indexed before this process
    started are not recent, so a restart does not make a whole mailbox new.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claimed_up_to: dict[tuple[int, int], int] = {}

    @staticmethod
    def _key(mailbox: MailboxInfo) -> tuple[int, int]:
        return (mailbox.id or 0, mailbox.uidvalidity)

    def knows(self, mailbox: MailboxInfo) -> bool:
        with self._lock:
            return self._key(mailbox) in self._claimed_up_to

    def start(self, mailbox: MailboxInfo, seen_up_to: int) -> None:
        """Set where recent UIDs begin, the first time a mailbox is seen."""
        with self._lock:
            self._claimed_up_to.setdefault(self._key(mailbox), seen_up_to)

    def claim(self, mailbox: MailboxInfo, uids: Sequence[int]) -> frozenset[int]:
        highest = uids[-1] if uids else 0
        with self._lock:
            watermark = self._claimed_up_to.setdefault(self._key(mailbox), highest)
            if highest <= watermark:
                return frozenset()
            self._claimed_up_to[self._key(mailbox)] = highest

        start = _bisect_right(uids, watermark)
        return frozenset(uids[start:])

    def peek_count(self, mailbox: MailboxInfo, uids: Sequence[int]) -> int:
        """How many of `uids` nobody has claimed yet (for STATUS)."""
        with self._lock:
            watermark = self._claimed_up_to.get(self._key(mailbox))
        if watermark is None:
            return 0
        return len(uids) - _bisect_right(uids, watermark)


def _bisect_right(values: Sequence[int], target: int) -> int:
    low, high = 0, len(values)
    while low < high:
        middle = (low + high) // 2
        if values[middle] <= target:
            low = middle + 1
        else:
            high = middle
    return low


recent_tracker = RecentTracker()
PROCESS_STARTED = timezone.now()


# -- the interface ---------------------------------------------------------------


class MailboxStore(abc.ABC):
    """Read access to one user's mailboxes, as an IMAP session sees them.

    A store is bound to a login: a linked account and, in split address
    mode, one of its addresses (then only that address's messages exist).
    Every method is a coroutine; none calls the provider.
    """

    account_id: int
    address_id: str | None

    @abc.abstractmethod
    async def list_mailboxes(self) -> list[MailboxInfo]:
        """Every mailbox in LIST order, placeholders included (RFC 3501 §6.3.8).

        The order is the official bridge's: INBOX, Drafts, Sent, Starred,
        Archive, Spam, Trash, All Mail, Folders and its folders, Labels and
        its labels. Names are Unicode; the session encodes them.
        """

    @abc.abstractmethod
    async def get_mailbox(self, name: str) -> MailboxInfo | None:
        """The mailbox called `name` ("INBOX" in any case), or None."""

    @abc.abstractmethod
    async def status(self, mailbox: MailboxInfo) -> MailboxStatus:
        """Counts for STATUS (RFC 3501 §6.3.10) without selecting."""

    @abc.abstractmethod
    async def snapshot(self, mailbox: MailboxInfo, *, claim_recent: bool) -> Snapshot:
        """All messages of `mailbox` with their flags, ascending by UID.

        One query, whatever the size of the mailbox. With `claim_recent` the
        session takes \\Recent for messages no session has seen yet.
        """

    @abc.abstractmethod
    async def fetch_rows(
        self, mailbox: MailboxInfo, uids: Sequence[int], columns: frozenset[str]
    ) -> list[FetchRow]:
        """Rows for the given UIDs (ascending), with `columns` filled.

        `columns` is a subset of :data:`FETCH_COLUMNS`; "raw" opens the
        cached message bytes. A fixed number of queries per call (no query
        per message); UIDs that no longer exist are left out.
        """

    @abc.abstractmethod
    async def read_bodies(
        self, rows: Sequence[FetchRow], *, header_only: bool = False
    ) -> None:
        """Fill each row's `raw` with the cached message bytes, in one query.

        The bytes are exactly what BODY[] serves; RFC822.SIZE is their length.
        With `header_only`, `raw` may stop where the message header ends,
        which is all HEADER sections read; rows without "parts" get the
        offsets that fit what `raw` holds.
        """

    @abc.abstractmethod
    async def search_rows(
        self, mailbox: MailboxInfo, uids: Sequence[int], *, with_text: bool
    ) -> list[SearchRow]:
        """Rows SEARCH evaluates; `with_text` opens the sealed search data."""

    @abc.abstractmethod
    async def set_subscribed(self, mailbox: MailboxInfo, subscribed: bool) -> None:
        """Record SUBSCRIBE or UNSUBSCRIBE (RFC 3501 §6.3.6)."""


# -- the implementation over the models --------------------------------------------


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run ORM work in a worker thread, which keeps its connection."""
    return await sync_to_async(_with_fresh_connection, thread_sensitive=False)(
        function, *args
    )


def _with_fresh_connection(function: Callable[..., T], *args: Any) -> T:
    # Worker threads keep their database connection between commands
    # (opening one per command costs more than a FETCH batch). When the
    # server dropped it meanwhile, start over once on a new one; the
    # store only reads, so running again is safe.
    try:
        return function(*args)
    except (InterfaceError, OperationalError):
        logger.info("database connection lost; retrying on a new one")
        for connection in connections.all(initialized_only=True):
            connection.close()
        return function(*args)


def mailbox_sort_key(name: str, label_id: str) -> tuple:
    """LIST order: system mailboxes first, then the folder and label trees."""
    if label_id in _SYSTEM_ORDER and "/" not in name:
        return (0, _SYSTEM_ORDER[label_id], "")
    root = name.split("/", 1)[0]
    if root == FOLDERS_ROOT:
        return (1, 0, name.split("/"))
    if root == LABELS_ROOT:
        return (2, 0, name.split("/"))
    return (3, 0, name.split("/"))


class DatabaseMailboxStore(MailboxStore):
    """:class:`MailboxStore` over mailsync's models."""

    def __init__(self, account_id: int, address_id: str | None = None) -> None:
        self.account_id = account_id
        self.address_id = address_id

    # -- mailboxes ---------------------------------------------------------------

    async def list_mailboxes(self) -> list[MailboxInfo]:
        return await _in_thread(self._list_mailboxes)

    def _list_mailboxes(self) -> list[MailboxInfo]:
        rows = list(
            Mailbox.objects.filter(account_id=self.account_id).values(*MAILBOX_FIELDS)
        )
        names = {row["name"] for row in rows}
        parents = {name.rsplit("/", 1)[0] for name in names if "/" in name}

        boxes = [
            _mailbox_info(row, has_children=row["name"] in parents) for row in rows
        ]
        for root in (FOLDERS_ROOT, LABELS_ROOT):
            if root not in names:
                boxes.append(_placeholder(root, has_children=root in parents))

        boxes.sort(key=lambda box: mailbox_sort_key(box.name, box.label_id))
        return boxes

    async def get_mailbox(self, name: str) -> MailboxInfo | None:
        if name.upper() == "INBOX":
            name = "INBOX"
        return await _in_thread(self._get_mailbox, name)

    def _get_mailbox(self, name: str) -> MailboxInfo | None:
        row = (
            Mailbox.objects.filter(account_id=self.account_id, name=name)
            .values(*MAILBOX_FIELDS)
            .first()
        )
        has_children = Mailbox.objects.filter(
            account_id=self.account_id, name__startswith=f"{name}/"
        ).exists()
        if row is None:
            if name in (FOLDERS_ROOT, LABELS_ROOT):
                return _placeholder(name, has_children=has_children)
            return None
        return _mailbox_info(row, has_children=has_children)

    async def set_subscribed(self, mailbox: MailboxInfo, subscribed: bool) -> None:
        if mailbox.id is None:
            return
        await _in_thread(self._set_subscribed, mailbox.id, subscribed)

    def _set_subscribed(self, mailbox_id: int, subscribed: bool) -> None:
        Mailbox.objects.filter(id=mailbox_id, account_id=self.account_id).update(
            subscribed=subscribed
        )

    # -- status and snapshots ----------------------------------------------------

    def _entries(self, mailbox_id: int):
        entries = MailboxEntry.objects.filter(mailbox_id=mailbox_id)
        if self.address_id is not None:
            entries = entries.filter(message__address_id=self.address_id)
        return entries

    async def status(self, mailbox: MailboxInfo) -> MailboxStatus:
        return await _in_thread(self._status, mailbox)

    def _status(self, mailbox: MailboxInfo) -> MailboxStatus:
        fresh = self._refreshed(mailbox)
        if fresh is None or fresh.id is None:
            return MailboxStatus(
                0, 0, 0, mailbox.uidnext, mailbox.uidvalidity, 0, 0, None
            )

        self._start_recent(fresh)
        rows = list(
            self._entries(fresh.id)
            .order_by("uid")
            .values_list("uid", "message__unread", "message__size", "deleted")
        )
        uids = [row[0] for row in rows]
        first_unseen = next(
            (position for position, row in enumerate(rows, 1) if row[1]), None
        )
        return MailboxStatus(
            messages=len(rows),
            recent=recent_tracker.peek_count(fresh, uids),
            unseen=sum(1 for row in rows if row[1]),
            uidnext=fresh.uidnext,
            uidvalidity=fresh.uidvalidity,
            size=sum(row[2] for row in rows),
            deleted=sum(1 for row in rows if row[3]),
            first_unseen=first_unseen,
        )

    def _refreshed(self, mailbox: MailboxInfo) -> MailboxInfo | None:
        if mailbox.id is None:
            return mailbox
        row = (
            Mailbox.objects.filter(id=mailbox.id, account_id=self.account_id)
            .values(*MAILBOX_FIELDS)
            .first()
        )
        if row is None:
            return None
        return _mailbox_info(row, has_children=mailbox.has_children)

    async def snapshot(self, mailbox: MailboxInfo, *, claim_recent: bool) -> Snapshot:
        snapshot = await _in_thread(self._snapshot, mailbox)
        if claim_recent:
            snapshot.recent = recent_tracker.claim(snapshot.mailbox, snapshot.uids)
        return snapshot

    def _snapshot(self, mailbox: MailboxInfo) -> Snapshot:
        fresh = self._refreshed(mailbox)
        if fresh is None:
            raise MailboxGone(mailbox.name)
        if fresh.id is None:
            return Snapshot(fresh, [])

        self._start_recent(fresh)
        rows = self._entries(fresh.id).order_by("uid").values(*_FLAG_COLUMNS)
        messages = [
            MessageState(row["uid"], row["message_id"], _flags_from_values(row))
            for row in rows
        ]
        return Snapshot(fresh, messages)

    def _start_recent(self, mailbox: MailboxInfo) -> None:
        if mailbox.id is None or recent_tracker.knows(mailbox):
            return
        older = self._entries(mailbox.id).filter(
            message__created_at__lt=PROCESS_STARTED
        )
        highest = older.aggregate(highest=Max("uid"))["highest"] or 0
        recent_tracker.start(mailbox, highest)

    # -- fetch and search ----------------------------------------------------------

    async def fetch_rows(
        self, mailbox: MailboxInfo, uids: Sequence[int], columns: frozenset[str]
    ) -> list[FetchRow]:
        unknown = columns - FETCH_COLUMNS
        if unknown:
            raise ValueError(f"unknown fetch columns {sorted(unknown)}")
        if mailbox.id is None or not uids:
            return []
        return await _in_thread(self._fetch_rows, mailbox.id, list(uids), columns)

    def _fetch_rows(
        self, mailbox_id: int, uids: list[int], columns: frozenset[str]
    ) -> list[FetchRow]:
        wanted = [*_FLAG_COLUMNS, "message__provider_id"]
        for column in ("size", "internal_date", "envelope", "bodystructure", "body"):
            if column in columns:
                wanted.append(f"message__{column}")
        if "parts" in columns:
            wanted.append("message__parts")

        query = self._entries(mailbox_id).filter(_uid_filter(uids))
        values = query.order_by("uid").values(*wanted)
        uid_set = set(uids)
        rows = [_fetch_row(value) for value in values if value["uid"] in uid_set]

        if "raw" in columns:
            self._attach_bodies(rows)
        return rows

    async def read_bodies(
        self, rows: Sequence[FetchRow], *, header_only: bool = False
    ) -> None:
        if rows:
            await _in_thread(self._attach_bodies, list(rows), header_only)

    def _attach_bodies(self, rows: list[FetchRow], header_only: bool = False) -> None:
        if header_only:
            rows = self._attach_headers(rows)

        by_message = {row.message_id: row for row in rows}
        for message_id, sealed in self._cache_column(list(by_message), "sealed"):
            row = by_message[message_id]
            row.raw = cache.open_body(self.account_id, row.provider_id, bytes(sealed))

    def _attach_headers(self, rows: list[FetchRow]) -> list[FetchRow]:
        """Fill `raw` with the separately sealed headers; the rows left over.

        Rows cached before headers were sealed apart have none and come
        back, to be read whole; the whole body is never loaded for the rest.
        """
        by_message = {row.message_id: row for row in rows}
        without_header = []
        for message_id, sealed in self._cache_column(list(by_message), "header_sealed"):
            row = by_message[message_id]
            row.raw = cache.open_header(
                self.account_id, row.provider_id, bytes(sealed or b"")
            )
            if row.raw is None:
                without_header.append(row)
            elif not row.parts:
                # The copy is the message up to its header's end: the whole
                # message as far as header sections can see.
                end = len(row.raw)
                row.parts = {"": [0, end, end, end]}

        self._attach_parts([row for row in without_header if not row.parts])
        return without_header

    @staticmethod
    def _attach_parts(rows: list[FetchRow]) -> None:
        by_message = {row.message_id: row for row in rows}
        message_ids = list(by_message)
        for start in range(0, len(message_ids), MAX_IN_PARAMETERS):
            chunk = message_ids[start : start + MAX_IN_PARAMETERS]
            for message_id, parts in Message.objects.filter(id__in=chunk).values_list(
                "id", "parts"
            ):
                by_message[message_id].parts = parts or {}

    @staticmethod
    def _cache_column(message_ids: list[int], column: str) -> Iterator[tuple]:
        """(message id, `column`) of the cache rows, a bounded IN list per query."""
        for start in range(0, len(message_ids), MAX_IN_PARAMETERS):
            chunk = message_ids[start : start + MAX_IN_PARAMETERS]
            yield from CachedMessage.objects.filter(message_id__in=chunk).values_list(
                "message_id", column
            )

    async def search_rows(
        self, mailbox: MailboxInfo, uids: Sequence[int], *, with_text: bool
    ) -> list[SearchRow]:
        if mailbox.id is None or not uids:
            return []
        return await _in_thread(self._search_rows, mailbox.id, list(uids), with_text)

    def _search_rows(
        self, mailbox_id: int, uids: list[int], with_text: bool
    ) -> list[SearchRow]:
        wanted = [
            *_FLAG_COLUMNS,
            "message__size",
            "message__internal_date",
            "message__sent_date",
        ]
        if with_text:
            wanted += ["message__provider_id", "message__search_sealed"]

        query = self._entries(mailbox_id).filter(_uid_filter(uids))
        uid_set = set(uids)
        rows = []
        for value in query.order_by("uid").values(*wanted):
            if value["uid"] not in uid_set:
                continue
            text = None
            if with_text:
                text = cache.open_search(
                    self.account_id,
                    value["message__provider_id"],
                    bytes(value["message__search_sealed"] or b""),
                )
            rows.append(
                SearchRow(
                    uid=value["uid"],
                    message_id=value["message_id"],
                    flags=_flags_from_values(value),
                    size=value["message__size"],
                    internal_date=value["message__internal_date"],
                    sent_date=value["message__sent_date"],
                    text=text,
                )
            )
        return rows


class MailboxGone(Exception):
    """The selected mailbox was deleted or renamed away."""


# The Mailbox columns a MailboxInfo is made from.
MAILBOX_FIELDS = (
    "id",
    "name",
    "kind",
    "label_id",
    "special_use",
    "uidvalidity",
    "uidnext",
    "subscribed",
)


def _mailbox_info(row: dict[str, Any], *, has_children: bool) -> MailboxInfo:
    return MailboxInfo(
        id=row["id"] if row["kind"] != Mailbox.Kind.PLACEHOLDER else None,
        name=row["name"],
        kind=row["kind"],
        label_id=row["label_id"],
        special_use=row["special_use"],
        uidvalidity=row["uidvalidity"],
        uidnext=row["uidnext"],
        subscribed=row["subscribed"],
        has_children=has_children,
    )


def _placeholder(name: str, *, has_children: bool) -> MailboxInfo:
    return MailboxInfo(
        id=None,
        name=name,
        kind=str(Mailbox.Kind.PLACEHOLDER),
        label_id="",
        special_use="",
        uidvalidity=1,
        uidnext=1,
        subscribed=True,
        has_children=has_children,
    )


def _uid_filter(uids: list[int]) -> Q:
    """A filter matching `uids` (ascending) with few query parameters.

    Runs of consecutive values become ranges; when there are many runs the
    filter widens to the overall span and the caller drops the extra rows.
    """
    runs: list[tuple[int, int]] = []
    for uid in uids:
        if runs and uid == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], uid)
        else:
            runs.append((uid, uid))

    if len(runs) > MAX_IN_PARAMETERS // 4:
        return Q(uid__gte=uids[0], uid__lte=uids[-1])

    condition = Q()
    for low, high in runs:
        condition |= Q(uid=low) if low == high else Q(uid__gte=low, uid__lte=high)
    return condition


def _fetch_row(value: dict[str, Any]) -> FetchRow:
    return FetchRow(
        uid=value["uid"],
        message_id=value["message_id"],
        flags=_flags_from_values(value),
        provider_id=value["message__provider_id"],
        size=value.get("message__size", 0),
        internal_date=value.get("message__internal_date"),
        envelope=bytes(value.get("message__envelope") or b""),
        bodystructure=bytes(value.get("message__bodystructure") or b""),
        body=bytes(value.get("message__body") or b""),
        parts=value.get("message__parts") or {},
    )
