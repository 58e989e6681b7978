"""Messages: the location model, the API shapes, listing and flag changes.

A message has at most one exclusive location (Inbox, Sent, Drafts, Trash,
Spam, Archive, Scheduled or a user folder), any number of type-1 labels and
the Starred bit. All Mail (5) holds everything; All Drafts (1) and All Sent
(2) follow from the message flags. Putting a message in Inbox, Sent or Drafts
sends it to the one its flags call for (a sent message "moved to Inbox" goes
back to Sent), as the provider does.
"""

import base64
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from . import api, events, labels, store

logger = logging.getLogger(__name__)

# Queries marked S608 interpolate only "?" placeholders and fixed column
# names; every value travels as a parameter.

FLAG_RECEIVED = 1 << 0
FLAG_SENT = 1 << 1
FLAG_INTERNAL = 1 << 2
FLAG_E2E = 1 << 3
FLAG_AUTO = 1 << 4
FLAG_REPLIED = 1 << 5
FLAG_REPLIED_ALL = 1 << 6
FLAG_FORWARDED = 1 << 7
FLAG_IMPORTED = 1 << 9
FLAG_SCHEDULED_SEND = 1 << 20

MAX_PAGE_SIZE = 150
DEFAULT_PAGE_SIZE = 100
MAX_IDS_PAGE = 1000
MAX_PAGE = 2**40


def is_draft(flags: int) -> bool:
    return flags & (FLAG_RECEIVED | FLAG_SENT) == 0


def home_location(flags: int) -> str:
    """Where Inbox/Sent/Drafts puts a message: decided by its flags."""
    if flags & FLAG_RECEIVED:
        return labels.INBOX
    if flags & FLAG_SENT:
        return labels.SENT
    if flags & FLAG_SCHEDULED_SEND:
        return labels.ALL_SCHEDULED
    return labels.DRAFTS


def address_json(name: str | None, address: str | None) -> dict[str, str]:
    return {"Name": name or "", "Address": address or ""}


@dataclass
class NewMessage:
    """Everything needed to store a message."""

    user_id: str
    address_id: str
    body: str
    mime_type: str
    subject: str = ""
    sender: dict[str, str] = field(default_factory=lambda: address_json("", ""))
    to_list: list[dict[str, str]] = field(default_factory=list)
    cc_list: list[dict[str, str]] = field(default_factory=list)
    bcc_list: list[dict[str, str]] = field(default_factory=list)
    reply_tos: list[dict[str, str]] = field(default_factory=list)
    external_id: str = ""
    flags: int = 0
    time: int = 0
    unread: bool = False
    location: str | None = None
    starred: bool = False
    label_ids: list[str] = field(default_factory=list)
    header: str = ""
    parsed_headers: list[list[str]] = field(default_factory=list)
    parent_id: str | None = None
    draft_action: int | None = None


@dataclass
class NewAttachment:
    name: str
    mime_type: str
    disposition: str
    key_packets: bytes
    data_packet: bytes
    content_id: str = ""
    headers: list[list[str]] = field(default_factory=list)
    signature: str = ""


def attachment_copy(row: sqlite3.Row, key_packets: bytes) -> NewAttachment:
    """A stored attachment for another message; the data packet is shared."""
    return NewAttachment(
        name=row["name"],
        mime_type=row["mime_type"],
        disposition=row["disposition"],
        key_packets=key_packets,
        data_packet=bytes(row["data_packet"]),
        content_id=row["content_id"],
        headers=store.loads(row["headers"], []),
        signature=row["signature"],
    )


def insert_message(
    conn: sqlite3.Connection,
    message: NewMessage,
    attachments: list[NewAttachment] | None = None,
    *,
    announce: bool = True,
) -> str:
    """Store a message (inside the caller's transaction) and log its creation."""
    message_id = store.new_id()
    conn.execute(
        "INSERT INTO messages (id, user_id, address_id, external_id, subject,"
        " sender, to_list, cc_list, bcc_list, reply_tos, flags, time, unread,"
        " location, starred, header, parsed_headers, body, mime_type, parent_id,"
        " draft_action) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            message.user_id,
            message.address_id,
            message.external_id,
            message.subject,
            store.dumps(message.sender),
            store.dumps(message.to_list),
            store.dumps(message.cc_list),
            store.dumps(message.bcc_list),
            store.dumps(message.reply_tos),
            message.flags,
            message.time or int(time.time()),
            int(message.unread),
            message.location,
            int(message.starred),
            message.header,
            store.dumps(message.parsed_headers),
            message.body,
            message.mime_type,
            message.parent_id,
            message.draft_action,
        ),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO message_labels (message_id, label_id) VALUES (?, ?)",
        [(message_id, label_id) for label_id in message.label_ids],
    )
    for attachment in attachments or []:
        insert_attachment(conn, message_id, attachment)

    if announce:
        events.record(
            conn, message.user_id, events.KIND_MESSAGE, message_id, events.ACTION_CREATE
        )
    return message_id


def insert_attachment(
    conn: sqlite3.Connection, message_id: str, attachment: NewAttachment
) -> str:
    attachment_id = store.new_id()
    conn.execute(
        "INSERT INTO attachments (id, message_id, name, mime_type, disposition,"
        " content_id, headers, key_packets, data_packet, signature)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            attachment_id,
            message_id,
            attachment.name,
            attachment.mime_type,
            attachment.disposition,
            attachment.content_id,
            store.dumps(attachment.headers),
            attachment.key_packets,
            attachment.data_packet,
            attachment.signature,
        ),
    )
    return attachment_id


def headers_json(pairs: list[list[str]]) -> dict[str, Any]:
    """Header pairs as the provider's object: one key, a string or a list."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            previous = result[name]
            result[name] = (
                [*previous, value]
                if isinstance(previous, list)
                else [
                    previous,
                    value,
                ]
            )
        else:
            result[name] = value
    return result


def _custom_labels(conn: sqlite3.Connection, ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {message_id: [] for message_id in ids}
    for chunk in _chunks(ids):
        placeholders = ",".join("?" for _ in chunk)
        for row in conn.execute(
            "SELECT message_id, label_id FROM message_labels"  # noqa: S608
            f" WHERE message_id IN ({placeholders})",
            chunk,
        ):
            found[row["message_id"]].append(row["label_id"])
    return found


def _attachment_totals(
    conn: sqlite3.Connection, ids: list[str]
) -> dict[str, tuple[int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(ids):
        placeholders = ",".join("?" for _ in chunk)
        for row in conn.execute(
            "SELECT message_id, COUNT(*) AS n,"  # noqa: S608
            " SUM(LENGTH(data_packet)) AS size"
            f" FROM attachments WHERE message_id IN ({placeholders})"
            " GROUP BY message_id",
            chunk,
        ):
            totals[row["message_id"]] = (int(row["n"]), int(row["size"] or 0))
    return totals


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def label_ids_of(row: sqlite3.Row, custom: list[str]) -> list[str]:
    flags = row["flags"]
    result = []

    if row["location"]:
        result.append(row["location"])
    result.append(labels.ALL_MAIL)
    if flags & (FLAG_SENT | FLAG_SCHEDULED_SEND):
        result.append(labels.ALL_SENT)
    if is_draft(flags) and not flags & FLAG_SCHEDULED_SEND:
        result.append(labels.ALL_DRAFTS)
    if row["starred"]:
        result.append(labels.STARRED)

    return result + sorted(custom)


def metadata_list(
    conn: sqlite3.Connection, rows: list[sqlite3.Row]
) -> list[dict[str, Any]]:
    """Metadata of many messages with a fixed number of queries."""
    ids = [row["id"] for row in rows]
    custom = _custom_labels(conn, ids)
    totals = _attachment_totals(conn, ids)

    return [
        _metadata(row, custom[row["id"]], totals.get(row["id"], (0, 0))) for row in rows
    ]


def _metadata(
    row: sqlite3.Row, custom: list[str], attachment_total: tuple[int, int]
) -> dict[str, Any]:
    flags = row["flags"]
    count, attachment_bytes = attachment_total

    return {
        "ID": row["id"],
        "ConversationID": row["id"],
        "AddressID": row["address_id"],
        "LabelIDs": label_ids_of(row, custom),
        "ExternalID": row["external_id"],
        "Subject": row["subject"],
        "Sender": store.loads(row["sender"], address_json("", "")),
        "ToList": store.loads(row["to_list"], []),
        "CCList": store.loads(row["cc_list"], []),
        "BCCList": store.loads(row["bcc_list"], []),
        "ReplyTos": store.loads(row["reply_tos"], []),
        "Flags": flags,
        "Time": row["time"],
        "Size": len(row["body"]) + attachment_bytes,
        "Unread": row["unread"],
        "IsReplied": 1 if flags & FLAG_REPLIED else 0,
        "IsRepliedAll": 1 if flags & FLAG_REPLIED_ALL else 0,
        "IsForwarded": 1 if flags & FLAG_FORWARDED else 0,
        "NumAttachments": count,
        "Order": row["seq"],
    }


def attachment_json(row: sqlite3.Row) -> dict[str, Any]:
    headers = headers_json(store.loads(row["headers"], []))
    return {
        "ID": row["id"],
        "Name": row["name"],
        "Size": len(row["data_packet"]),
        "MIMEType": row["mime_type"],
        "Disposition": row["disposition"],
        "Headers": headers,
        "KeyPackets": base64.b64encode(bytes(row["key_packets"])).decode("ascii"),
        "Signature": row["signature"],
    }


def get_message_row(
    conn: sqlite3.Connection, user_id: str, message_id: str
) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM messages WHERE id = ? AND user_id = ?", (message_id, user_id)
    ).fetchone()


def get_draft_row(
    conn: sqlite3.Connection, user_id: str, message_id: str, *, not_a_draft: str
) -> sqlite3.Row:
    """The row of a draft; 404 when there is no such message, else 422."""
    row = get_message_row(conn, user_id, message_id)
    if row is None:
        raise api.not_found("Message does not exist")
    if not is_draft(row["flags"]):
        raise api.invalid(not_a_draft)
    return row


def message_json(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    """The full message: metadata, headers, armored body and attachments."""
    attachments = conn.execute(
        "SELECT * FROM attachments WHERE message_id = ? ORDER BY seq", (row["id"],)
    ).fetchall()

    full = metadata_list(conn, [row])[0]
    full.update(
        {
            "Header": row["header"],
            "ParsedHeaders": headers_json(store.loads(row["parsed_headers"], [])),
            "Body": row["body"],
            "MIMEType": row["mime_type"],
            "Attachments": [attachment_json(attachment) for attachment in attachments],
        }
    )
    return full


def metadata_for_ids(
    conn: sqlite3.Connection, message_ids: list[str]
) -> dict[str, dict[str, Any]]:
    rows = []
    for chunk in _chunks(message_ids):
        placeholders = ",".join("?" for _ in chunk)
        rows += conn.execute(
            f"SELECT * FROM messages WHERE id IN ({placeholders})",  # noqa: S608
            chunk,
        ).fetchall()
    return {item["ID"]: item for item in metadata_list(conn, rows)}


# -- Listing ---------------------------------------------------------------


@dataclass
class MessageFilter:
    ids: list[str] = field(default_factory=list)
    label_id: str = ""
    address_id: str = ""
    external_id: str = ""
    subject: str = ""
    unread: bool | None = None
    end_id: str = ""
    desc: bool = False
    sort: str = "Time"
    page: int = 0
    page_size: int = DEFAULT_PAGE_SIZE
    limit: int | None = None

    @classmethod
    def from_request(cls, values: dict[str, Any]) -> "MessageFilter":
        ids = values.get("ID") or []
        if isinstance(ids, str):
            ids = [ids]

        page_size = api.as_int(
            values.get("PageSize"), "PageSize", default=DEFAULT_PAGE_SIZE
        )
        if page_size < 1 or page_size > MAX_PAGE_SIZE:
            raise api.invalid(f"PageSize must be between 1 and {MAX_PAGE_SIZE}")

        # Page times PageSize is an SQL offset, so it must stay within 64 bits.
        page = api.as_int(
            values.get("Page"), "Page", default=0, minimum=0, maximum=MAX_PAGE
        )

        limit = values.get("Limit")
        unread = values.get("Unread")
        sort = str(values.get("Sort") or "Time")
        if sort not in {"Time", "ID", "Size"}:
            raise api.invalid("Sort must be Time, ID or Size")

        label_id = values.get("LabelID") or ""
        if isinstance(label_id, list):
            label_id = label_id[0] if label_id else ""

        return cls(
            ids=api.as_str_list(ids, "ID"),
            label_id=str(label_id),
            address_id=str(values.get("AddressID") or ""),
            external_id=str(values.get("ExternalID") or ""),
            subject=str(values.get("Subject") or ""),
            unread=None if unread in (None, "") else api.as_bool(unread),
            end_id=str(values.get("EndID") or ""),
            desc=api.as_bool(values.get("Desc") or 0),
            sort=sort,
            page=page,
            page_size=page_size,
            limit=None if limit in (None, "") else api.as_int(limit, "Limit"),
        )


def _label_condition(
    conn: sqlite3.Connection, user_id: str, label_id: str
) -> tuple[str, list[Any]]:
    if label_id == labels.ALL_MAIL:
        return "1", []
    if label_id == labels.ALL_DRAFTS:
        return "(flags & ?) = 0 AND (flags & ?) = 0", [
            FLAG_RECEIVED | FLAG_SENT,
            FLAG_SCHEDULED_SEND,
        ]
    if label_id == labels.ALL_SENT:
        return "(flags & ?) != 0", [FLAG_SENT | FLAG_SCHEDULED_SEND]
    if label_id == labels.STARRED:
        return "starred = 1", []

    kind = labels.label_kind(conn, user_id, label_id)
    if kind == labels.TYPE_LABEL:
        return (
            "id IN (SELECT message_id FROM message_labels WHERE label_id = ?)",
            [label_id],
        )
    if kind is None or label_id == labels.OUTBOX:
        return "0", []
    return "location = ?", [label_id]


def _order_columns(sort: str) -> list[str]:
    if sort == "ID":
        return ["seq"]
    if sort == "Size":
        return ["LENGTH(body)", "seq"]
    return ["time", "seq"]


def list_messages(
    conn: sqlite3.Connection, user_id: str, wanted: MessageFilter
) -> tuple[list[dict[str, Any]], int]:
    """One page of metadata and the total number of matching messages."""
    conditions = ["user_id = ?"]
    params: list[Any] = [user_id]

    if wanted.ids:
        conditions.append(f"id IN ({','.join('?' for _ in wanted.ids)})")
        params += wanted.ids
    if wanted.address_id:
        conditions.append("address_id = ?")
        params.append(wanted.address_id)
    if wanted.external_id:
        conditions.append("external_id = ?")
        params.append(wanted.external_id)
    if wanted.subject:
        conditions.append("instr(lower(subject), lower(?)) > 0")
        params.append(wanted.subject)
    if wanted.unread is not None:
        conditions.append("unread = ?")
        params.append(int(wanted.unread))
    if wanted.label_id:
        condition, extra = _label_condition(conn, user_id, wanted.label_id)
        conditions.append(condition)
        params += extra

    where = " AND ".join(conditions)
    total = conn.execute(
        f"SELECT COUNT(*) FROM messages WHERE {where}",  # noqa: S608
        params,
    ).fetchone()[0]

    if wanted.limit == 0:
        return [], int(total)

    columns = _order_columns(wanted.sort)
    direction = "DESC" if wanted.desc else "ASC"

    if wanted.end_id:
        # The page starts at EndID (inclusive) and runs in the sort direction.
        end = conn.execute(
            f"SELECT {', '.join(columns)} FROM messages"  # noqa: S608
            " WHERE id = ? AND user_id = ?",
            (wanted.end_id, user_id),
        ).fetchone()
        if end is not None:
            comparison = "<=" if wanted.desc else ">="
            placeholders = ", ".join("?" for _ in columns)
            where += f" AND ({', '.join(columns)}) {comparison} ({placeholders})"
            params += list(end)

    page_size = wanted.page_size
    if wanted.limit is not None and wanted.limit > 0:
        page_size = min(page_size, wanted.limit)

    order = ", ".join(f"{column} {direction}" for column in columns)
    rows = conn.execute(
        f"SELECT * FROM messages WHERE {where} ORDER BY {order}"  # noqa: S608
        " LIMIT ? OFFSET ?",
        [*params, page_size, wanted.page * page_size],
    ).fetchall()

    return metadata_list(conn, rows), int(total)


def message_counts(conn: sqlite3.Connection, user_id: str) -> list[dict[str, Any]]:
    """Total and unread per label, the way GET messages/count reports them."""
    counts: dict[str, list[int]] = {
        label_id: [0, 0] for label_id in labels.SYSTEM_LABELS
    }
    for row in conn.execute(
        "SELECT id FROM labels WHERE user_id = ? ORDER BY num", (user_id,)
    ):
        counts[row["id"]] = [0, 0]

    def add(label_id: str | None, total: int, unread: int) -> None:
        if label_id is None:
            return
        entry = counts.setdefault(label_id, [0, 0])
        entry[0] += total
        entry[1] += unread

    for row in conn.execute(
        "SELECT location, COUNT(*) AS total, SUM(unread) AS unread FROM messages"
        " WHERE user_id = ? GROUP BY location",
        (user_id,),
    ):
        add(row["location"], row["total"], row["unread"] or 0)

    for row in conn.execute(
        "SELECT message_labels.label_id, COUNT(*) AS total,"
        " SUM(messages.unread) AS unread FROM message_labels"
        " JOIN messages ON messages.id = message_labels.message_id"
        " WHERE messages.user_id = ? GROUP BY message_labels.label_id",
        (user_id,),
    ):
        add(row["label_id"], row["total"], row["unread"] or 0)

    for label_id, condition, params in (
        (labels.ALL_MAIL, "1", []),
        (labels.STARRED, "starred = 1", []),
        (
            labels.ALL_DRAFTS,
            "(flags & ?) = 0 AND (flags & ?) = 0",
            [FLAG_RECEIVED | FLAG_SENT, FLAG_SCHEDULED_SEND],
        ),
        (labels.ALL_SENT, "(flags & ?) != 0", [FLAG_SENT | FLAG_SCHEDULED_SEND]),
    ):
        row = conn.execute(
            "SELECT COUNT(*) AS total, SUM(unread) AS unread"  # noqa: S608
            f" FROM messages WHERE user_id = ? AND {condition}",
            [user_id, *params],
        ).fetchone()
        add(label_id, row["total"], row["unread"] or 0)

    return [
        {"LabelID": label_id, "Total": total, "Unread": unread}
        for label_id, (total, unread) in counts.items()
    ]


# -- Changes ---------------------------------------------------------------


def _owned_rows(
    conn: sqlite3.Connection, user_id: str, message_ids: list[str]
) -> dict[str, sqlite3.Row]:
    found = {}
    for chunk in _chunks(message_ids):
        placeholders = ",".join("?" for _ in chunk)
        for row in conn.execute(
            "SELECT * FROM messages"  # noqa: S608
            f" WHERE user_id = ? AND id IN ({placeholders})",
            [user_id, *chunk],
        ):
            found[row["id"]] = row
    return found


def _per_message(
    conn: sqlite3.Connection,
    user_id: str,
    message_ids: list[str],
    change: Any,
) -> list[dict[str, Any]]:
    """Apply change(row) -> bool to each owned message; log the changed ones."""
    responses = []
    changed = []

    with store.transaction(conn):
        rows = _owned_rows(conn, user_id, message_ids)
        for message_id in message_ids:
            row = rows.get(message_id)
            if row is None:
                responses.append(
                    api.item_error(
                        message_id, api.DOES_NOT_EXIST, "Message does not exist"
                    )
                )
                continue

            if change(row):
                changed.append(message_id)
            responses.append(api.item_ok(message_id))

        events.record_messages(conn, user_id, changed, events.ACTION_UPDATE_FLAGS)

    return responses


def set_unread(
    conn: sqlite3.Connection, user_id: str, message_ids: list[str], unread: bool
) -> list[dict[str, Any]]:
    def change(row: sqlite3.Row) -> bool:
        if bool(row["unread"]) == unread:
            return False
        conn.execute(
            "UPDATE messages SET unread = ? WHERE id = ?", (int(unread), row["id"])
        )
        return True

    return _per_message(conn, user_id, message_ids, change)


def set_flag(
    conn: sqlite3.Connection,
    user_id: str,
    message_ids: list[str],
    flag: int,
    on: bool,
) -> list[dict[str, Any]]:
    def change(row: sqlite3.Row) -> bool:
        flags = row["flags"] | flag if on else row["flags"] & ~flag
        if flags == row["flags"]:
            return False
        conn.execute("UPDATE messages SET flags = ? WHERE id = ?", (flags, row["id"]))
        return True

    return _per_message(conn, user_id, message_ids, change)


def _check_labellable(conn: sqlite3.Connection, user_id: str, label_id: str) -> int:
    if label_id in labels.DERIVED_LABELS or label_id == labels.ALL_SCHEDULED:
        raise api.invalid(f"Messages cannot be labelled with {label_id!r} directly")

    kind = labels.label_kind(conn, user_id, label_id)
    if kind is None or kind == labels.TYPE_CONTACT_GROUP:
        raise api.not_found("Label does not exist")
    return kind


def apply_label(
    conn: sqlite3.Connection, user_id: str, message_ids: list[str], label_id: str
) -> list[dict[str, Any]]:
    kind = _check_labellable(conn, user_id, label_id)

    def change(row: sqlite3.Row) -> bool:
        return add_label_to_row(conn, row, label_id, kind)

    return _per_message(conn, user_id, message_ids, change)


def add_label_to_row(
    conn: sqlite3.Connection, row: sqlite3.Row, label_id: str, kind: int
) -> bool:
    """Put one message under a label; True when something changed."""
    if label_id == labels.STARRED:
        if row["starred"]:
            return False
        conn.execute("UPDATE messages SET starred = 1 WHERE id = ?", (row["id"],))
        return True

    if kind == labels.TYPE_LABEL:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO message_labels (message_id, label_id) VALUES (?, ?)",
            (row["id"], label_id),
        )
        return cursor.rowcount > 0

    location = label_id
    if label_id in (labels.INBOX, labels.SENT, labels.DRAFTS):
        location = home_location(row["flags"])

    if row["location"] == location:
        return False
    conn.execute("UPDATE messages SET location = ? WHERE id = ?", (location, row["id"]))
    return True


def remove_label(
    conn: sqlite3.Connection, user_id: str, message_ids: list[str], label_id: str
) -> list[dict[str, Any]]:
    kind = _check_labellable(conn, user_id, label_id)

    def change(row: sqlite3.Row) -> bool:
        if label_id == labels.STARRED:
            if not row["starred"]:
                return False
            conn.execute("UPDATE messages SET starred = 0 WHERE id = ?", (row["id"],))
            return True

        if kind == labels.TYPE_LABEL:
            cursor = conn.execute(
                "DELETE FROM message_labels WHERE message_id = ? AND label_id = ?",
                (row["id"], label_id),
            )
            return cursor.rowcount > 0

        if row["location"] != label_id:
            return False
        conn.execute("UPDATE messages SET location = NULL WHERE id = ?", (row["id"],))
        return True

    return _per_message(conn, user_id, message_ids, change)


def delete_messages(
    conn: sqlite3.Connection, user_id: str, message_ids: list[str]
) -> list[dict[str, Any]]:
    responses = []
    with store.transaction(conn):
        rows = _owned_rows(conn, user_id, message_ids)
        deleted = []
        for message_id in message_ids:
            if message_id not in rows:
                responses.append(
                    api.item_error(
                        message_id, api.DOES_NOT_EXIST, "Message does not exist"
                    )
                )
                continue
            conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            deleted.append(message_id)
            responses.append(api.item_ok(message_id))

        events.record_messages(conn, user_id, deleted, events.ACTION_DELETE)
    return responses
