"""SQLite storage of the reference provider: schema, connections, transactions.

One database file per data directory, in WAL mode, so that the CLI (adduser,
seed) can write while the server runs. Every write happens inside a short
``BEGIN IMMEDIATE`` transaction.
"""

import base64
import contextlib
import json
import logging
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DATABASE_NAME = "provider.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS provider_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    num INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    name TEXT UNIQUE NOT NULL COLLATE NOCASE,
    display_name TEXT NOT NULL,
    srp_salt BLOB NOT NULL,
    srp_verifier BLOB NOT NULL,
    password_mode INTEGER NOT NULL DEFAULT 1,
    totp_secret TEXT,
    hv_required INTEGER NOT NULL DEFAULT 0,
    free_plan INTEGER NOT NULL DEFAULT 0,
    -- Kept so that the test provider can act for the user (seed, deliver).
    key_passphrase TEXT NOT NULL,
    mail_settings TEXT NOT NULL DEFAULT '{}',
    created INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS user_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_salt BLOB NOT NULL,
    private_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    is_primary INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS addresses (
    num INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email TEXT UNIQUE NOT NULL COLLATE NOCASE,
    display_name TEXT NOT NULL,
    type INTEGER NOT NULL,
    status INTEGER NOT NULL DEFAULT 1,
    send INTEGER NOT NULL DEFAULT 1,
    receive INTEGER NOT NULL DEFAULT 1,
    ord INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS address_keys (
    id TEXT PRIMARY KEY,
    address_id TEXT NOT NULL REFERENCES addresses(id) ON DELETE CASCADE,
    private_key TEXT NOT NULL,
    public_key TEXT NOT NULL,
    token TEXT NOT NULL,
    signature TEXT NOT NULL,
    -- The random passphrase behind Token, kept for server-side test helpers.
    passphrase TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    is_primary INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS sessions (
    uid TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    access_expires REAL NOT NULL,
    scope TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS hv_tokens (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    approved INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS labels (
    num INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type INTEGER NOT NULL,
    parent_id TEXT,
    color TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    address_id TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    sender TEXT NOT NULL,
    to_list TEXT NOT NULL DEFAULT '[]',
    cc_list TEXT NOT NULL DEFAULT '[]',
    bcc_list TEXT NOT NULL DEFAULT '[]',
    reply_tos TEXT NOT NULL DEFAULT '[]',
    flags INTEGER NOT NULL DEFAULT 0,
    time INTEGER NOT NULL,
    unread INTEGER NOT NULL DEFAULT 0,
    -- The one exclusive location (a system or folder label id), or NULL.
    location TEXT,
    starred INTEGER NOT NULL DEFAULT 0,
    header TEXT NOT NULL DEFAULT '',
    parsed_headers TEXT NOT NULL DEFAULT '[]',
    body TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    parent_id TEXT,
    draft_action INTEGER
);
CREATE INDEX IF NOT EXISTS messages_by_user ON messages(user_id, seq);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages(user_id, time, seq);
CREATE INDEX IF NOT EXISTS messages_by_external ON messages(user_id, external_id);

CREATE TABLE IF NOT EXISTS message_labels (
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    label_id TEXT NOT NULL,
    PRIMARY KEY (message_id, label_id)
);
CREATE INDEX IF NOT EXISTS message_labels_by_label ON message_labels(label_id);

CREATE TABLE IF NOT EXISTS attachments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    disposition TEXT NOT NULL,
    content_id TEXT NOT NULL DEFAULT '',
    headers TEXT NOT NULL DEFAULT '[]',
    key_packets BLOB NOT NULL,
    data_packet BLOB NOT NULL,
    signature TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS attachments_by_message ON attachments(message_id, seq);

CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL DEFAULT '',
    action INTEGER NOT NULL DEFAULT 0,
    refresh INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_by_user ON events(user_id, seq);

-- Public keys of outside addresses, as the provider finds them through WKD
-- or a contact; set through the control API.
CREATE TABLE IF NOT EXISTS external_keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL COLLATE NOCASE,
    fingerprint TEXT NOT NULL,
    public_key TEXT NOT NULL,
    UNIQUE (email, fingerprint)
);

CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    package TEXT NOT NULL,
    created INTEGER NOT NULL
);
"""


def database_path(data_dir: Path) -> Path:
    return Path(data_dir) / DATABASE_NAME


def connect(data_dir: Path) -> sqlite3.Connection:
    """Open (and create if needed) the provider database of a data directory."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)

    conn = sqlite3.connect(
        database_path(data_dir),
        timeout=30,
        isolation_level=None,
        check_same_thread=False,
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")

    with transaction(conn):
        for statement in _statements(SCHEMA):
            conn.execute(statement)

    return conn


def _statements(script: str) -> Iterator[str]:
    # executescript() would commit our transaction, so run statements one by one.
    buffer = []
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(buffer).strip()
            buffer = []
            if statement:
                yield statement


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block in one write transaction, rolled back on any error."""
    if conn.in_transaction:
        # Nested use joins the outer transaction.
        yield conn
        return

    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def new_id() -> str:
    """An opaque identifier shaped like the provider's (88 base64url chars)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(64)).decode("ascii")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | None, default: Any = None) -> Any:
    if not text:
        return default
    return json.loads(text)


def get_state(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute(
        "SELECT value FROM provider_state WHERE key = ?", (key,)
    ).fetchone()
    return row["value"] if row else None


def set_state_once(conn: sqlite3.Connection, key: str, value: str) -> str:
    """Store a value unless one exists already; return the value that won."""
    with transaction(conn):
        conn.execute(
            "INSERT OR IGNORE INTO provider_state (key, value) VALUES (?, ?)",
            (key, value),
        )
        stored = get_state(conn, key)

    assert stored is not None
    return stored
