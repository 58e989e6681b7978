"""The only writer of the index tables (mailboxes, messages, entries, cache).

Every function here runs its changes in one database transaction and
returns the ids of the mailboxes whose content or flags changed, so the
caller can publish them after the commit (see mailsync/notify.py).

Mailboxes follow the provider's labels the way the official bridge maps
them: the system mailboxes (INBOX, Drafts, Sent, Starred, Archive, Spam,
Trash, All Mail), the ``Folders`` and ``Labels`` placeholders, folders nested
under ``Folders/`` by their path and labels flat under ``Labels/``. The
provider's Scheduled, AllDrafts, AllSent and Outbox labels are not shown.

UIDs are handed out in the order messages are applied. The first sync
applies them oldest first (see mailsync/sync.py), so there a higher UID is
a newer message, as mail programs expect; everything arriving later gets
higher UIDs still. This keeps the rule RFC 3501 sets even for a client
connected during the sync: a message added to a mailbox always gets a
higher UID than any before it.
Once given, a UID never changes while the mailbox's UIDVALIDITY stays; only
:func:`reset_index` (a provider refresh) gives new UIDs, with a new
UIDVALIDITY.

A message whose content changes (a draft saved again) is a new message for
IMAP: its old entries are removed and new ones get new UIDs, so BODY[] of a
UID never changes.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Max

from accounts.models import Address, LinkedAccount
from mailsync import cache
from mailsync.models import (
    ALL_MAIL,
    ARCHIVE,
    DRAFTS,
    FLAG_RECEIVED,
    FLAG_SENT,
    INBOX,
    SENT,
    SPAM,
    STARRED,
    TRASH,
    CachedMessage,
    Mailbox,
    MailboxEntry,
    Message,
    SyncState,
    new_uidvalidity,
)

logger = logging.getLogger(__name__)

FOLDERS_ROOT = "Folders"
LABELS_ROOT = "Labels"

# Provider label types.
LABEL_TYPE_LABEL = 1
LABEL_TYPE_CONTACT_GROUP = 2
LABEL_TYPE_FOLDER = 3
LABEL_TYPE_SYSTEM = 4

# (label ID, IMAP name, special-use attribute), in the order LIST shows them.
SYSTEM_MAILBOXES = [
    (INBOX, "INBOX", ""),
    (DRAFTS, "Drafts", "\\Drafts"),
    (SENT, "Sent", "\\Sent"),
    (STARRED, "Starred", "\\Flagged"),
    (ARCHIVE, "Archive", "\\Archive"),
    (SPAM, "Spam", "\\Junk"),
    (TRASH, "Trash", "\\Trash"),
    (ALL_MAIL, "All Mail", "\\All"),
]
SYSTEM_LABEL_IDS = {label_id for label_id, _, _ in SYSTEM_MAILBOXES}


class IndexConflict(Exception):
    """The change cannot be applied to the index as it stands."""


@dataclass(frozen=True)
class LabelInfo:
    """A provider label or folder, as the index needs it."""

    label_id: str
    name: str
    label_type: int
    parent_id: str = ""
    path: str = ""
    color: str = ""


@dataclass
class MessageInfo:
    """A provider message's metadata, as the index needs it."""

    provider_id: str
    label_ids: list[str]
    address_id: str = ""
    external_id: str = ""
    unread: bool = False
    flags: int = 0
    is_replied: bool = False
    is_replied_all: bool = False
    is_forwarded: bool = False
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def is_draft(self) -> bool:
        return not self.flags & (FLAG_RECEIVED | FLAG_SENT)


@dataclass
class Content:
    """A built message and what was derived from it once, at sync time."""

    raw: bytes
    envelope: bytes = b""
    bodystructure: bytes = b""
    body: bytes = b""
    parts: dict[str, Any] = field(default_factory=dict)
    sent_date: datetime | None = None
    search: dict[str, Any] = field(default_factory=dict)


# -- mailboxes ---------------------------------------------------------------


def mailbox_name(label: LabelInfo, known: dict[str, LabelInfo] | None = None) -> str:
    """The IMAP name of a provider folder or label."""
    if label.label_type == LABEL_TYPE_LABEL:
        return f"{LABELS_ROOT}/{label.name}"

    path = label.path or _path_from_parents(label, known or {})
    return f"{FOLDERS_ROOT}/{path}"


def _path_from_parents(label: LabelInfo, known: dict[str, LabelInfo]) -> str:
    # Older answers carry no Path; walk ParentID instead, guarding cycles.
    names = [label.name]
    seen = {label.label_id}
    parent_id = label.parent_id
    while parent_id and parent_id in known and parent_id not in seen:
        parent = known[parent_id]
        names.append(parent.name)
        seen.add(parent_id)
        parent_id = parent.parent_id
    return "/".join(reversed(names))


def _is_user_label(label: LabelInfo) -> bool:
    return label.label_type in (LABEL_TYPE_LABEL, LABEL_TYPE_FOLDER)


def _next_uidvalidity(account: LinkedAccount, count: int = 1) -> int:
    """Reserve ``count`` UIDVALIDITY values; call inside a transaction.

    From the clock, but always above any value this account used before: a
    mailbox deleted and created again in the same second must not look
    unchanged to a client.
    """
    state, _ = SyncState.objects.select_for_update().get_or_create(account=account)
    highest = Mailbox.objects.filter(account=account).aggregate(v=Max("uidvalidity"))
    floor = max(state.last_uidvalidity, highest["v"] or 0)
    first = max(new_uidvalidity(), floor + 1)

    state.last_uidvalidity = first + count - 1
    state.save(update_fields=["last_uidvalidity"])
    return first


def _create_mailbox(account: LinkedAccount, **fields: Any) -> Mailbox:
    return Mailbox.objects.create(
        account=account, uidvalidity=_next_uidvalidity(account), **fields
    )


def _ensure_fixed_mailboxes(account: LinkedAccount) -> set[int]:
    existing = {box.name: box for box in Mailbox.objects.filter(account=account)}
    created = set()

    for label_id, name, special_use in SYSTEM_MAILBOXES:
        if name not in existing:
            box = _create_mailbox(
                account,
                label_id=label_id,
                name=name,
                kind=Mailbox.Kind.SYSTEM,
                special_use=special_use,
            )
            created.add(box.id)

    for name in (FOLDERS_ROOT, LABELS_ROOT):
        if name not in existing:
            box = _create_mailbox(
                account, label_id="", name=name, kind=Mailbox.Kind.PLACEHOLDER
            )
            created.add(box.id)

    return created


def sync_mailboxes(account: LinkedAccount, labels: Iterable[LabelInfo]) -> set[int]:
    """Make the mailbox set match the provider's complete label list."""
    wanted_labels = [label for label in labels if _is_user_label(label)]
    known = {label.label_id: label for label in wanted_labels}
    wanted = {
        label.label_id: (mailbox_name(label, known), label) for label in wanted_labels
    }

    with transaction.atomic():
        changed = _ensure_fixed_mailboxes(account)
        user_boxes = {
            box.label_id: box
            for box in Mailbox.objects.filter(
                account=account, kind__in=[Mailbox.Kind.FOLDER, Mailbox.Kind.LABEL]
            )
        }

        for label_id, box in list(user_boxes.items()):
            if label_id not in wanted:
                changed.add(box.id)
                box.delete()
                del user_boxes[label_id]

        # Park renamed mailboxes on unique names first, so two folders that
        # swapped names never collide on the unique constraint mid-way.
        renamed = []
        for label_id, box in user_boxes.items():
            name, label = wanted[label_id]
            if box.name != name:
                # Never a mapped name: those all start with a system name,
                # Folders/ or Labels/.
                box.name = f"renaming:{box.id}"
                box.save(update_fields=["name"])
                renamed.append((box, name, label))
        for box, name, label in renamed:
            box.name = name
            box.color = label.color
            box.save(update_fields=["name", "color"])
            changed.add(box.id)

        for label_id, (name, label) in wanted.items():
            if label_id in user_boxes:
                continue
            box = _create_mailbox(
                account,
                label_id=label_id,
                name=name,
                kind=_kind_of(label),
                color=label.color,
            )
            changed.add(box.id)

    return changed


def _kind_of(label: LabelInfo) -> str:
    if label.label_type == LABEL_TYPE_FOLDER:
        return Mailbox.Kind.FOLDER
    return Mailbox.Kind.LABEL


def apply_label(account: LinkedAccount, label: LabelInfo) -> set[int]:
    """Create or update the mailbox of one folder or label (a label event)."""
    if not _is_user_label(label):
        return set()

    name = mailbox_name(label, _known_labels(account))
    with transaction.atomic():
        changed = _ensure_fixed_mailboxes(account)
        box = Mailbox.objects.filter(account=account, label_id=label.label_id).first()
        clash = Mailbox.objects.filter(account=account, name=name)
        if box is not None:
            clash = clash.exclude(id=box.id)
        if clash.exists():
            raise IndexConflict(f"a mailbox named {name!r} already exists")

        if box is None:
            box = _create_mailbox(
                account,
                label_id=label.label_id,
                name=name,
                kind=_kind_of(label),
                color=label.color,
            )
            changed.add(box.id)
            return changed

        old_name = box.name
        if old_name != name:
            changed |= _rename_descendants(account, old_name, name)
        box.name = name
        box.color = label.color
        box.save(update_fields=["name", "color"])
        changed.add(box.id)
    return changed


def _known_labels(account: LinkedAccount) -> dict[str, LabelInfo]:
    # Folder events carry the new Path; this is only the fallback for a
    # folder without one: rebuild parents' paths from the mailbox names.
    known = {}
    for box in Mailbox.objects.filter(account=account, kind=Mailbox.Kind.FOLDER):
        path = box.name.removeprefix(f"{FOLDERS_ROOT}/")
        known[box.label_id] = LabelInfo(box.label_id, path, LABEL_TYPE_FOLDER)
    return known


def _rename_descendants(
    account: LinkedAccount, old_name: str, new_name: str
) -> set[int]:
    # Renaming or moving a folder moves its subfolders with it; the provider
    # may or may not send an event for each child, so do it here too.
    changed = set()
    children = Mailbox.objects.filter(
        account=account, kind=Mailbox.Kind.FOLDER, name__startswith=f"{old_name}/"
    )
    for child in children:
        child.name = new_name + child.name[len(old_name) :]
        child.save(update_fields=["name"])
        changed.add(child.id)
    return changed


def delete_label(account: LinkedAccount, label_id: str) -> set[int]:
    """Remove the mailbox of a deleted folder or label, with its entries."""
    if label_id in SYSTEM_LABEL_IDS:
        return set()

    with transaction.atomic():
        boxes = list(
            Mailbox.objects.filter(
                account=account,
                label_id=label_id,
                kind__in=[Mailbox.Kind.FOLDER, Mailbox.Kind.LABEL],
            )
        )
        removed = {box.id for box in boxes}
        Mailbox.objects.filter(id__in=removed).delete()
    return removed


# -- messages ----------------------------------------------------------------


def _target_mailboxes(
    account: LinkedAccount, label_ids: Iterable[str]
) -> dict[int, str]:
    """Mailbox id -> label id for the labels a message carries (+ All Mail)."""
    wanted = set(label_ids) | {ALL_MAIL}
    rows = Mailbox.objects.filter(account=account, label_id__in=wanted).exclude(
        kind=Mailbox.Kind.PLACEHOLDER
    )
    return dict(rows.values_list("id", "label_id"))


def _allocate_uids(mailbox_ids: Iterable[int]) -> dict[int, int]:
    """Take the next UID of each mailbox; call inside a transaction.

    The rows are locked in id order (PostgreSQL), so two writers adding
    messages to overlapping mailboxes queue up instead of deadlocking. On
    SQLite the IMMEDIATE transaction already holds the write lock.
    """
    ids = sorted(set(mailbox_ids))
    if not ids:
        return {}

    boxes = list(Mailbox.objects.select_for_update().filter(id__in=ids).order_by("id"))
    allocated = {}
    for box in boxes:
        allocated[box.id] = box.uidnext
        box.uidnext += 1
    Mailbox.objects.bulk_update(boxes, ["uidnext"])
    return allocated


def _add_entries(message: Message, mailbox_ids: Iterable[int]) -> set[int]:
    uids = _allocate_uids(mailbox_ids)
    MailboxEntry.objects.bulk_create(
        MailboxEntry(mailbox_id=mailbox_id, message=message, uid=uid)
        for mailbox_id, uid in uids.items()
    )
    return set(uids)


def _reconcile_entries(message: Message, target_ids: set[int]) -> set[int]:
    current = set(
        MailboxEntry.objects.filter(message=message).values_list(
            "mailbox_id", flat=True
        )
    )
    gone = current - target_ids
    if gone:
        MailboxEntry.objects.filter(message=message, mailbox_id__in=gone).delete()
    added = _add_entries(message, target_ids - current)
    return gone | added


def _apply_metadata(message: Message, info: MessageInfo) -> bool:
    """Copy the metadata onto the row; True when an IMAP flag changed."""
    flags_before = _imap_flag_state(message)
    message.address_id = info.address_id
    message.label_ids = sorted(set(info.label_ids))
    message.external_id = info.external_id[:1000]
    message.unread = info.unread
    message.provider_flags = info.flags
    message.is_replied = info.is_replied
    message.is_replied_all = info.is_replied_all
    message.is_forwarded = info.is_forwarded
    message.internal_date = info.time
    return flags_before != _imap_flag_state(message)


def _imap_flag_state(message: Message) -> tuple:
    return (
        message.unread,
        message.starred,
        message.is_draft,
        message.is_replied or message.is_replied_all,
        message.is_forwarded,
    )


def _apply_content(message: Message, content: Content) -> None:
    message.size = len(content.raw)
    message.envelope = content.envelope
    message.bodystructure = content.bodystructure
    message.body = content.body
    message.parts = content.parts
    message.sent_date = content.sent_date
    message.search_sealed = cache.seal_search(
        message.account_id, message.provider_id, content.search
    )


def _store_body(message: Message, raw: bytes) -> None:
    CachedMessage.objects.update_or_create(
        message=message, defaults=_cache_columns(message, raw)
    )


def _cache_columns(message: Message, raw: bytes) -> dict[str, bytes]:
    # The body and its separately sealed header, cut with the offsets
    # _apply_content just stored on the message.
    return cache.cache_columns(
        message.account_id, message.provider_id, raw, message.parts
    )


def _entry_mailboxes(message: Message) -> set[int]:
    return set(
        MailboxEntry.objects.filter(message=message).values_list(
            "mailbox_id", flat=True
        )
    )


def upsert_message(
    account: LinkedAccount, info: MessageInfo, content: Content
) -> set[int]:
    """Insert a message with its content, or bring an indexed one up to date.

    Idempotent by provider id: applying the same message twice changes
    nothing. When the content differs from what is cached, the message gets
    new UIDs everywhere (see the module docstring).
    """
    with transaction.atomic():
        return _upsert_in_transaction(account, info, content)


def _upsert_in_transaction(
    account: LinkedAccount, info: MessageInfo, content: Content
) -> set[int]:
    targets = set(_target_mailboxes(account, info.label_ids))
    message = (
        Message.objects.select_for_update()
        .filter(account=account, provider_id=info.provider_id)
        .first()
    )

    if message is None:
        message = Message(account=account, provider_id=info.provider_id)
        _apply_metadata(message, info)
        _apply_content(message, content)
        message.save()
        _store_body(message, content.raw)
        return _add_entries(message, targets)

    flags_changed = _apply_metadata(message, info)
    if _cached_body(message) != content.raw:
        changed = _entry_mailboxes(message)
        MailboxEntry.objects.filter(message=message).delete()
        _apply_content(message, content)
        message.save()
        _store_body(message, content.raw)
        return changed | _add_entries(message, targets)

    message.save()
    changed = _reconcile_entries(message, targets)
    if flags_changed:
        changed |= _entry_mailboxes(message)
    return changed


def upsert_messages(
    account: LinkedAccount, items: list[tuple[MessageInfo, Content]]
) -> set[int]:
    """Many messages in one transaction; new ones get UIDs in ``items`` order.

    The first sync's path: the new messages, their cache rows and entries
    are written with a handful of statements whatever their number.
    Messages already indexed take the one-by-one path of
    :func:`upsert_message`.
    """
    if not items:
        return set()

    with transaction.atomic():
        wanted = [info.provider_id for info, _ in items]
        known = set(
            Message.objects.filter(account=account, provider_id__in=wanted).values_list(
                "provider_id", flat=True
            )
        )
        changed: set[int] = set()
        fresh: dict[str, tuple[MessageInfo, Content]] = {}
        for info, content in items:
            if info.provider_id in known:
                changed |= _upsert_in_transaction(account, info, content)
            else:
                # A message twice in one batch: the later copy wins.
                fresh[info.provider_id] = (info, content)

        if fresh:
            changed |= _insert_new(account, list(fresh.values()))
    return changed


def _insert_new(
    account: LinkedAccount, items: list[tuple[MessageInfo, Content]]
) -> set[int]:
    mailbox_of = dict(
        Mailbox.objects.filter(account=account)
        .exclude(kind=Mailbox.Kind.PLACEHOLDER)
        .exclude(label_id="")
        .values_list("label_id", "id")
    )

    messages = []
    for info, content in items:
        message = Message(account=account, provider_id=info.provider_id)
        _apply_metadata(message, info)
        _apply_content(message, content)
        messages.append(message)
    Message.objects.bulk_create(messages)

    CachedMessage.objects.bulk_create(
        CachedMessage(message=message, **_cache_columns(message, content.raw))
        for message, (_, content) in zip(messages, items, strict=True)
    )

    targets = [
        sorted(
            {
                mailbox_of[label]
                for label in {*info.label_ids, ALL_MAIL}
                if label in mailbox_of
            }
        )
        for info, _ in items
    ]
    boxes = list(
        Mailbox.objects.select_for_update()
        .filter(id__in={box_id for ids in targets for box_id in ids})
        .order_by("id")
    )
    next_uid = {box.id: box.uidnext for box in boxes}
    entries = []
    for message, box_ids in zip(messages, targets, strict=True):
        for box_id in box_ids:
            entries.append(
                MailboxEntry(mailbox_id=box_id, message=message, uid=next_uid[box_id])
            )
            next_uid[box_id] += 1
    for box in boxes:
        box.uidnext = next_uid[box.id]
    Mailbox.objects.bulk_update(boxes, ["uidnext"])
    MailboxEntry.objects.bulk_create(entries, batch_size=500)
    return set(next_uid)


def _cached_body(message: Message) -> bytes | None:
    cached = CachedMessage.objects.filter(message=message).first()
    if cached is None:
        return None
    return cache.open_body(
        message.account_id, message.provider_id, bytes(cached.sealed)
    )


def update_message(account: LinkedAccount, info: MessageInfo) -> set[int] | None:
    """Apply new labels and flags; None when the message is not indexed."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(account=account, provider_id=info.provider_id)
            .first()
        )
        if message is None:
            return None

        flags_changed = _apply_metadata(message, info)
        message.save()
        targets = set(_target_mailboxes(account, info.label_ids))
        changed = _reconcile_entries(message, targets)
        if flags_changed:
            changed |= _entry_mailboxes(message)
        return changed


def delete_message(account: LinkedAccount, provider_id: str) -> set[int]:
    """Remove a message from every mailbox and from the cache."""
    with transaction.atomic():
        message = Message.objects.filter(
            account=account, provider_id=provider_id
        ).first()
        if message is None:
            return set()
        changed = _entry_mailboxes(message)
        message.delete()
        return changed


def known_message_ids(account: LinkedAccount, provider_ids: Iterable[str]) -> set[str]:
    """Which of ``provider_ids`` the index already holds."""
    ids = list(provider_ids)
    found: set[str] = set()
    # Chunked: SQLite limits the number of query parameters.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            Message.objects.filter(account=account, provider_id__in=chunk).values_list(
                "provider_id", flat=True
            )
        )
    return found


def reset_index(account: LinkedAccount) -> set[int]:
    """Forget every message and give every mailbox a new UIDVALIDITY.

    The mailbox rows stay (their ids are what IMAP sessions follow); the next
    first sync fills them again from UID 1.
    """
    with transaction.atomic():
        boxes = list(Mailbox.objects.select_for_update().filter(account=account))
        Message.objects.filter(account=account).delete()
        next_validity = _next_uidvalidity(account, count=max(1, len(boxes)))
        for offset, box in enumerate(sorted(boxes, key=lambda box: box.id)):
            box.uidvalidity = next_validity + offset
            box.uidnext = 1
        Mailbox.objects.bulk_update(boxes, ["uidvalidity", "uidnext"])
    return {box.id for box in boxes}


# -- addresses ---------------------------------------------------------------


def _address_fields(address) -> dict[str, Any]:
    return {
        "email": address.email,
        "display_name": address.display_name,
        "status": address.status,
        "send": address.send,
        "receive": address.receive,
        "order": address.order,
        "address_type": address.type,
    }


def replace_addresses(account: LinkedAccount, addresses: Iterable) -> None:
    """Make the account's addresses exactly the provider's list."""
    addresses = list(addresses)
    with transaction.atomic():
        for address in addresses:
            apply_address(account, address)
        Address.objects.filter(account=account).exclude(
            provider_id__in=[address.id for address in addresses]
        ).delete()


def apply_address(account: LinkedAccount, address) -> None:
    """Create or update one address (from a provider Address object)."""
    Address.objects.update_or_create(
        account=account, provider_id=address.id, defaults=_address_fields(address)
    )


def delete_address(account: LinkedAccount, provider_id: str) -> None:
    Address.objects.filter(account=account, provider_id=provider_id).delete()
