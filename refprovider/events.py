"""The per-user change log that the event feed is built from.

Every change made through the API, the CLI or the internal API writes one row
in the same transaction as the change itself. The feed (``feed.py``) later
reads the rows after a client's last event id and describes the current state
of what changed.
"""

import base64
import binascii
import logging
import sqlite3
import struct

logger = logging.getLogger(__name__)

KIND_MARKER = "marker"
KIND_MESSAGE = "message"
KIND_LABEL = "label"
KIND_ADDRESS = "address"
KIND_REFRESH = "refresh"
KIND_USER = "user"
KIND_MAIL_SETTINGS = "mail_settings"

ACTION_DELETE = 0
ACTION_CREATE = 1
ACTION_UPDATE = 2
ACTION_UPDATE_FLAGS = 3

REFRESH_MAIL = 1
REFRESH_ALL = 255


def record(
    conn: sqlite3.Connection,
    user_id: str,
    kind: str,
    item_id: str = "",
    action: int = ACTION_UPDATE,
    refresh: int = 0,
) -> int:
    """Append one change for a user; call inside the change's transaction."""
    cursor = conn.execute(
        "INSERT INTO events (user_id, kind, item_id, action, refresh)"
        " VALUES (?, ?, ?, ?, ?)",
        (user_id, kind, item_id, action, refresh),
    )
    return int(cursor.lastrowid or 0)


def record_messages(
    conn: sqlite3.Connection, user_id: str, message_ids: list[str], action: int
) -> None:
    conn.executemany(
        "INSERT INTO events (user_id, kind, item_id, action) VALUES (?, ?, ?, ?)",
        [(user_id, KIND_MESSAGE, message_id, action) for message_id in message_ids],
    )


def encode_event_id(user_num: int, seq: int) -> str:
    return base64.urlsafe_b64encode(struct.pack(">QQ", user_num, seq)).decode("ascii")


def decode_event_id(event_id: str) -> tuple[int, int] | None:
    """(user number, sequence) of an event id, or None when it is malformed."""
    try:
        raw = base64.urlsafe_b64decode(event_id.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None

    if len(raw) != 16:
        return None
    user_num, seq = struct.unpack(">QQ", raw)
    return user_num, seq


def latest_seq(conn: sqlite3.Connection, user_id: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(MAX(seq), 0) FROM events WHERE user_id = ?", (user_id,)
    ).fetchone()
    return int(row[0])
