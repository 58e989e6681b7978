"""Labels and folders: the system set, user labels (type 1), nested folders (type 3).

System labels have fixed string ids "0".."12". A user folder may have a parent
folder; its Path is the chain of names joined with "/". Names must be unique
among siblings of the same type.
"""

import logging
import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api, events, store
from .auth import authenticated, provider_of

logger = logging.getLogger(__name__)

# Queries marked S608 interpolate only "?" placeholders and fixed column
# names; every value travels as a parameter.

TYPE_LABEL = 1
TYPE_CONTACT_GROUP = 2
TYPE_FOLDER = 3
TYPE_SYSTEM = 4

INBOX = "0"
ALL_DRAFTS = "1"
ALL_SENT = "2"
TRASH = "3"
SPAM = "4"
ALL_MAIL = "5"
ARCHIVE = "6"
SENT = "7"
DRAFTS = "8"
OUTBOX = "9"
STARRED = "10"
ALL_SCHEDULED = "12"

SYSTEM_LABELS = {
    INBOX: "Inbox",
    ALL_DRAFTS: "All Drafts",
    ALL_SENT: "All Sent",
    TRASH: "Trash",
    SPAM: "Spam",
    ALL_MAIL: "All Mail",
    ARCHIVE: "Archive",
    SENT: "Sent",
    DRAFTS: "Drafts",
    OUTBOX: "Outbox",
    STARRED: "Starred",
    ALL_SCHEDULED: "All Scheduled",
}

# System labels that are a message's one exclusive location.
LOCATION_LABELS = {INBOX, TRASH, SPAM, ARCHIVE, SENT, DRAFTS, ALL_SCHEDULED}

# Labels derived from a message's state, never set or removed directly.
DERIVED_LABELS = {ALL_DRAFTS, ALL_SENT, ALL_MAIL, OUTBOX}

DEFAULT_COLOR = "#7272a7"
MAX_NAME_LENGTH = 100


def label_kind(conn: sqlite3.Connection, user_id: str, label_id: str) -> int | None:
    """The type of a label id for this user, or None if it does not exist."""
    if label_id in SYSTEM_LABELS:
        return TYPE_SYSTEM

    row = conn.execute(
        "SELECT type FROM labels WHERE id = ? AND user_id = ?", (label_id, user_id)
    ).fetchone()
    return int(row["type"]) if row else None


def system_label_json(label_id: str, order: int) -> dict[str, Any]:
    name = SYSTEM_LABELS[label_id]
    return {
        "ID": label_id,
        "ParentID": "",
        "Name": name,
        "Path": name,
        "Color": "#8080FF",
        "Type": TYPE_SYSTEM,
        "Notify": 0,
        "Display": 1,
        "Sticky": 0,
        "Expanded": 0,
        "Order": order,
    }


def _path_of(conn: sqlite3.Connection, row: sqlite3.Row) -> str:
    names = [row["name"]]
    parent_id = row["parent_id"]
    seen = {row["id"]}

    while parent_id and parent_id not in seen:
        seen.add(parent_id)
        parent = conn.execute(
            "SELECT id, name, parent_id FROM labels WHERE id = ?", (parent_id,)
        ).fetchone()
        if parent is None:
            break
        names.append(parent["name"])
        parent_id = parent["parent_id"]

    return "/".join(reversed(names))


def label_json(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    return {
        "ID": row["id"],
        "ParentID": row["parent_id"] or "",
        "Name": row["name"],
        "Path": _path_of(conn, row),
        "Color": row["color"],
        "Type": row["type"],
        "Notify": 1,
        "Display": 1,
        "Sticky": 0,
        "Expanded": 0,
        "Order": row["num"],
    }


def get_label_json(conn: sqlite3.Connection, label_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM labels WHERE id = ?", (label_id,)).fetchone()
    return label_json(conn, row) if row else None


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise api.invalid("A label name is required")
    if "/" in name:
        raise api.invalid("A label name cannot contain '/'")
    if len(name) > MAX_NAME_LENGTH:
        raise api.invalid(f"A label name is at most {MAX_NAME_LENGTH} characters")
    return name


def _check_unique(
    conn: sqlite3.Connection,
    user_id: str,
    name: str,
    label_type: int,
    parent_id: str | None,
    exclude_id: str | None = None,
) -> None:
    clash = conn.execute(
        "SELECT id FROM labels WHERE user_id = ? AND type = ?"
        " AND COALESCE(parent_id, '') = ? AND name = ? COLLATE NOCASE AND id != ?",
        (user_id, label_type, parent_id or "", name, exclude_id or ""),
    ).fetchone()
    if clash is not None:
        kind = "folder" if label_type == TYPE_FOLDER else "label"
        raise api.APIError(
            422, api.ALREADY_EXISTS, f"A {kind} with this name already exists"
        )


def _check_parent(
    conn: sqlite3.Connection,
    user_id: str,
    label_type: int,
    parent_id: str | None,
    moving_id: str | None = None,
) -> None:
    if not parent_id:
        return

    if label_type != TYPE_FOLDER:
        raise api.invalid("Only folders can have a parent")

    parent = conn.execute(
        "SELECT * FROM labels WHERE id = ? AND user_id = ?", (parent_id, user_id)
    ).fetchone()
    if parent is None or parent["type"] != TYPE_FOLDER:
        raise api.invalid("The parent folder does not exist")

    # A folder cannot move below itself.
    cursor: sqlite3.Row | None = parent
    while cursor is not None and moving_id:
        if cursor["id"] == moving_id:
            raise api.invalid("A folder cannot be moved into itself")
        cursor = (
            conn.execute(
                "SELECT * FROM labels WHERE id = ?", (cursor["parent_id"],)
            ).fetchone()
            if cursor["parent_id"]
            else None
        )


def create_label(
    conn: sqlite3.Connection,
    user_id: str,
    name: str,
    label_type: int,
    *,
    parent_id: str | None = None,
    color: str | None = None,
) -> dict[str, Any]:
    if label_type not in (TYPE_LABEL, TYPE_FOLDER):
        raise api.invalid("Type must be 1 (label) or 3 (folder)")

    name = _check_name(name)
    with store.transaction(conn):
        _check_parent(conn, user_id, label_type, parent_id)
        _check_unique(conn, user_id, name, label_type, parent_id)

        label_id = store.new_id()
        conn.execute(
            "INSERT INTO labels (id, user_id, name, type, parent_id, color)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                label_id,
                user_id,
                name,
                label_type,
                parent_id or None,
                color or DEFAULT_COLOR,
            ),
        )
        events.record(conn, user_id, events.KIND_LABEL, label_id, events.ACTION_CREATE)
        created = get_label_json(conn, label_id)

    assert created is not None
    return created


def find_or_create_folder_path(
    conn: sqlite3.Connection, user_id: str, path: str
) -> str:
    """The id of the folder at "a/b/c", creating missing folders on the way."""
    parent_id: str | None = None
    for name in [part for part in path.split("/") if part.strip()]:
        row = conn.execute(
            "SELECT id FROM labels WHERE user_id = ? AND type = ?"
            " AND COALESCE(parent_id, '') = ? AND name = ? COLLATE NOCASE",
            (user_id, TYPE_FOLDER, parent_id or "", name.strip()),
        ).fetchone()
        if row is not None:
            parent_id = row["id"]
            continue
        parent_id = create_label(conn, user_id, name, TYPE_FOLDER, parent_id=parent_id)[
            "ID"
        ]

    if parent_id is None:
        raise api.invalid("The folder path is empty")
    return parent_id


def find_or_create_label(conn: sqlite3.Connection, user_id: str, name: str) -> str:
    row = conn.execute(
        "SELECT id FROM labels WHERE user_id = ? AND type = ? AND name = ?"
        " COLLATE NOCASE",
        (user_id, TYPE_LABEL, name.strip()),
    ).fetchone()
    if row is not None:
        return str(row["id"])
    return str(create_label(conn, user_id, name, TYPE_LABEL)["ID"])


def _descendants(conn: sqlite3.Connection, label_id: str) -> list[str]:
    found = []
    pending = [label_id]
    while pending:
        current = pending.pop()
        children = conn.execute(
            "SELECT id FROM labels WHERE parent_id = ?", (current,)
        ).fetchall()
        for child in children:
            if child["id"] not in found:
                found.append(child["id"])
                pending.append(child["id"])
    return found


def update_label(
    conn: sqlite3.Connection, user_id: str, label_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    with store.transaction(conn):
        row = conn.execute(
            "SELECT * FROM labels WHERE id = ? AND user_id = ?", (label_id, user_id)
        ).fetchone()
        if row is None:
            raise api.not_found("Label does not exist")

        name = api.as_str(body.get("Name"), "Name", required=False)
        name = _check_name(name) if name else row["name"]
        color = api.as_str(body.get("Color"), "Color", required=False) or row["color"]
        parent_id = row["parent_id"]
        if "ParentID" in body:
            parent_id = api.as_str(body["ParentID"], "ParentID", required=False) or None

        _check_parent(conn, user_id, row["type"], parent_id, moving_id=label_id)
        _check_unique(conn, user_id, name, row["type"], parent_id, label_id)

        conn.execute(
            "UPDATE labels SET name = ?, color = ?, parent_id = ? WHERE id = ?",
            (name, color, parent_id, label_id),
        )

        # Children's paths change with their parent's name or place.
        for changed_id in [label_id, *_descendants(conn, label_id)]:
            events.record(conn, user_id, events.KIND_LABEL, changed_id)
        updated = get_label_json(conn, label_id)

    assert updated is not None
    return updated


def delete_label(conn: sqlite3.Connection, user_id: str, label_id: str) -> None:
    if label_id in SYSTEM_LABELS:
        raise api.invalid("System labels cannot be deleted")

    with store.transaction(conn):
        row = conn.execute(
            "SELECT * FROM labels WHERE id = ? AND user_id = ?", (label_id, user_id)
        ).fetchone()
        if row is None:
            raise api.not_found("Label does not exist")

        doomed = [label_id, *_descendants(conn, label_id)]
        placeholders = ",".join("?" for _ in doomed)

        touched = {
            r["message_id"]
            for r in conn.execute(
                f"SELECT message_id FROM message_labels"  # noqa: S608
                f" WHERE label_id IN ({placeholders})",
                doomed,
            )
        }
        touched |= {
            r["id"]
            for r in conn.execute(
                f"SELECT id FROM messages WHERE user_id = ?"  # noqa: S608
                f" AND location IN ({placeholders})",
                [user_id, *doomed],
            )
        }

        conn.execute(
            f"DELETE FROM message_labels"  # noqa: S608
            f" WHERE label_id IN ({placeholders})",
            doomed,
        )
        # Mail in a deleted folder stays in All Mail only.
        conn.execute(
            f"UPDATE messages SET location = NULL WHERE user_id = ?"  # noqa: S608
            f" AND location IN ({placeholders})",
            [user_id, *doomed],
        )
        conn.execute(
            f"DELETE FROM labels WHERE id IN ({placeholders})",  # noqa: S608
            doomed,
        )

        for doomed_id in doomed:
            events.record(
                conn, user_id, events.KIND_LABEL, doomed_id, events.ACTION_DELETE
            )
        events.record_messages(
            conn, user_id, sorted(touched), events.ACTION_UPDATE_FLAGS
        )


def list_labels(
    conn: sqlite3.Connection, user_id: str, types: set[int] | None
) -> list[dict[str, Any]]:
    result = []
    if types is None or TYPE_SYSTEM in types:
        result += [
            system_label_json(label_id, order)
            for order, label_id in enumerate(SYSTEM_LABELS)
        ]

    rows = conn.execute(
        "SELECT * FROM labels WHERE user_id = ? ORDER BY num", (user_id,)
    ).fetchall()
    result += [
        label_json(conn, row) for row in rows if types is None or row["type"] in types
    ]
    return result


@authenticated()
async def get_labels(request: Request) -> JSONResponse:
    provider = provider_of(request)
    raw_types = request.query_params.getlist("Type")

    types = None
    if raw_types:
        types = {api.as_int(value, "Type") for value in raw_types}

    labels = list_labels(provider.conn, request.state.user_id, types)
    return api.ok({"Labels": labels})


@authenticated()
async def post_label(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)

    label = create_label(
        provider.conn,
        request.state.user_id,
        api.as_str(body.get("Name"), "Name"),
        api.as_int(body.get("Type"), "Type", default=TYPE_LABEL),
        parent_id=api.as_str(body.get("ParentID"), "ParentID", required=False) or None,
        color=api.as_str(body.get("Color"), "Color", required=False) or None,
    )
    return api.ok({"Label": label})


@authenticated()
async def put_label(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = await api.read_json(request)

    label = update_label(
        provider.conn, request.state.user_id, request.path_params["label_id"], body
    )
    return api.ok({"Label": label})


@authenticated()
async def delete_label_route(request: Request) -> JSONResponse:
    provider = provider_of(request)
    delete_label(provider.conn, request.state.user_id, request.path_params["label_id"])
    return api.ok()
