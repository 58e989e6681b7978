"""Users, addresses and their keys: creation, lookup and API shapes.

A user has one user key, locked with a passphrase derived from the (mailbox)
password and the key salt. Each address has its own key, locked with a random
passphrase; the address key's ``Token`` is that passphrase encrypted to the
user key and its ``Signature`` a detached signature by the user key.
"""

import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from . import events, pgp, srp, store

logger = logging.getLogger(__name__)

DEFAULT_DOMAIN = "proton.test"

ADDRESS_TYPE_ORIGINAL = 1
ADDRESS_TYPE_ALIAS = 2
KEY_FLAGS_ACTIVE = 3  # trusted (1) and active (2)

MAX_SPACE = 500 * 1024 * 1024 * 1024
MAX_UPLOAD = 25 * 1024 * 1024

DEFAULT_MAIL_SETTINGS = {
    "DisplayName": "",
    "Signature": "",
    "DraftMIMEType": "text/html",
    "ReceiveMIMEType": "text/html",
    "ShowMIMEType": "text/html",
    "AttachPublicKey": 0,
    "Sign": 0,
    "PGPScheme": 16,
    "PMSignature": 0,
}

DEFAULT_USER_SETTINGS = {
    "Telemetry": 1,
    "CrashReports": 1,
    "Locale": "en_US",
    "Password": {"Mode": 1},
}


class UserError(Exception):
    """A user or address cannot be created as asked."""


@dataclass(frozen=True)
class AddressKey:
    id: str
    private_key: str
    public_key: str
    passphrase: str


def create_user(
    conn: sqlite3.Connection,
    username: str,
    password: str,
    *,
    mailbox_password: str | None = None,
    totp_secret: str | None = None,
    addresses: list[str] | None = None,
    human_verification: bool = False,
    free_plan: bool = False,
) -> str:
    """Create a user with its keys and addresses; return the user id."""
    if not username or not password:
        raise UserError("a username and a password are required")

    emails = addresses or [f"{username}@{DEFAULT_DOMAIN}"]
    if find_user(conn, username) is not None:
        raise UserError(f"the user {username!r} exists already")
    for email in emails:
        if find_address(conn, email) is not None:
            raise UserError(f"the address {email!r} exists already")

    srp_salt = secrets.token_bytes(10)
    verifier = srp.compute_verifier(password.encode("utf-8"), srp_salt)

    key_salt = secrets.token_bytes(16)
    key_secret = mailbox_password if mailbox_password else password
    passphrase = srp.key_passphrase(key_secret.encode("utf-8"), key_salt)
    user_key = pgp.generate_key(username, emails[0], passphrase)

    user_id = store.new_id()
    with store.transaction(conn):
        conn.execute(
            "INSERT INTO users (id, name, display_name, srp_salt, srp_verifier,"
            " password_mode, totp_secret, hv_required, free_plan, key_passphrase,"
            " mail_settings, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user_id,
                username,
                username,
                srp_salt,
                verifier,
                2 if mailbox_password else 1,
                totp_secret or None,
                int(human_verification),
                int(free_plan),
                passphrase,
                store.dumps(DEFAULT_MAIL_SETTINGS),
                int(time.time()),
            ),
        )
        conn.execute(
            "INSERT INTO user_keys (id, user_id, key_salt, private_key, fingerprint)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                store.new_id(),
                user_id,
                key_salt,
                user_key.private_armored,
                user_key.fingerprint,
            ),
        )
        # The first event marks where the user's event stream begins.
        events.record(conn, user_id, events.KIND_MARKER)

        for index, email in enumerate(emails):
            _insert_address(
                conn,
                user_id,
                email,
                ADDRESS_TYPE_ORIGINAL if index == 0 else ADDRESS_TYPE_ALIAS,
                user_key.private_armored,
                passphrase,
                announce=False,
            )

    logger.info("Created user %s with %d address(es)", username, len(emails))
    return user_id


def add_address(conn: sqlite3.Connection, user_id: str, email: str) -> str:
    """Give an existing user one more address (with its key); announce it."""
    if find_address(conn, email) is not None:
        raise UserError(f"the address {email!r} exists already")

    user = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    key = primary_user_key(conn, user_id)
    with store.transaction(conn):
        return _insert_address(
            conn,
            user_id,
            email,
            ADDRESS_TYPE_ALIAS,
            key["private_key"],
            user["key_passphrase"],
            announce=True,
        )


def _insert_address(
    conn: sqlite3.Connection,
    user_id: str,
    email: str,
    address_type: int,
    user_private_key: str,
    user_passphrase: str,
    *,
    announce: bool,
) -> str:
    token = secrets.token_hex(32)
    address_key = pgp.generate_key(email, email, token)
    encrypted_token = pgp.encrypt_armored(
        token.encode("ascii"), pgp.public_key(user_private_key)
    )
    token_signature = pgp.sign_detached(
        token.encode("ascii"), user_private_key, user_passphrase
    )

    order = conn.execute(
        "SELECT COALESCE(MAX(ord), 0) + 1 FROM addresses WHERE user_id = ?",
        (user_id,),
    ).fetchone()[0]

    address_id = store.new_id()
    conn.execute(
        "INSERT INTO addresses (id, user_id, email, display_name, type, ord)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (address_id, user_id, email, email.split("@")[0], address_type, order),
    )
    conn.execute(
        "INSERT INTO address_keys (id, address_id, private_key, public_key, token,"
        " signature, passphrase, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            store.new_id(),
            address_id,
            address_key.private_armored,
            address_key.public_armored,
            encrypted_token,
            token_signature,
            token,
            address_key.fingerprint,
        ),
    )

    if announce:
        events.record(
            conn, user_id, events.KIND_ADDRESS, address_id, events.ACTION_CREATE
        )
    return address_id


ADDRESS_SETTINGS = {
    "Status": "status",
    "Send": "send",
    "Receive": "receive",
    "DisplayName": "display_name",
}


def change_address(
    conn: sqlite3.Connection, user_id: str, address_id: str, changes: dict[str, Any]
) -> None:
    """Change an address's status, send/receive bits or display name."""
    unknown = set(changes) - set(ADDRESS_SETTINGS)
    if unknown:
        raise UserError(f"cannot change {', '.join(sorted(unknown))}")

    with store.transaction(conn):
        for field_name, value in changes.items():
            column = ADDRESS_SETTINGS[field_name]
            conn.execute(
                f"UPDATE addresses SET {column} = ?"  # noqa: S608
                " WHERE id = ? AND user_id = ?",
                (value, address_id, user_id),
            )
        events.record(conn, user_id, events.KIND_ADDRESS, address_id)


def remove_address(conn: sqlite3.Connection, user_id: str, address_id: str) -> None:
    with store.transaction(conn):
        remaining = conn.execute(
            "SELECT COUNT(*) FROM addresses WHERE user_id = ?", (user_id,)
        ).fetchone()[0]
        if remaining <= 1:
            raise UserError("the last address of a user cannot be removed")

        conn.execute(
            "DELETE FROM addresses WHERE id = ? AND user_id = ?", (address_id, user_id)
        )
        events.record(
            conn, user_id, events.KIND_ADDRESS, address_id, events.ACTION_DELETE
        )


def find_user(conn: sqlite3.Connection, name_or_email: str) -> sqlite3.Row | None:
    """A user by name, or by any of its addresses."""
    row = conn.execute(
        "SELECT * FROM users WHERE name = ?", (name_or_email,)
    ).fetchone()
    if row is not None:
        return row

    return conn.execute(
        "SELECT users.* FROM users JOIN addresses ON addresses.user_id = users.id"
        " WHERE addresses.email = ?",
        (name_or_email,),
    ).fetchone()


def get_user(conn: sqlite3.Connection, user_id: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise UserError("no such user")
    return row


def find_address(conn: sqlite3.Connection, email: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM addresses WHERE email = ?", (email.strip(),)
    ).fetchone()


def user_addresses(conn: sqlite3.Connection, user_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM addresses WHERE user_id = ? ORDER BY ord", (user_id,)
    ).fetchall()


def primary_user_key(conn: sqlite3.Connection, user_id: str) -> sqlite3.Row:
    return conn.execute(
        "SELECT * FROM user_keys WHERE user_id = ? ORDER BY is_primary DESC LIMIT 1",
        (user_id,),
    ).fetchone()


def primary_address_key(conn: sqlite3.Connection, address_id: str) -> AddressKey:
    row = conn.execute(
        "SELECT * FROM address_keys WHERE address_id = ?"
        " ORDER BY is_primary DESC LIMIT 1",
        (address_id,),
    ).fetchone()
    if row is None:
        raise UserError("the address has no key")
    return AddressKey(
        row["id"], row["private_key"], row["public_key"], row["passphrase"]
    )


def address_keys(conn: sqlite3.Connection, address_id: str) -> list[AddressKey]:
    rows = conn.execute(
        "SELECT * FROM address_keys WHERE address_id = ? ORDER BY is_primary DESC",
        (address_id,),
    ).fetchall()
    return [
        AddressKey(row["id"], row["private_key"], row["public_key"], row["passphrase"])
        for row in rows
    ]


def used_space(conn: sqlite3.Connection, user_id: str) -> int:
    bodies = conn.execute(
        "SELECT COALESCE(SUM(LENGTH(body)), 0) FROM messages WHERE user_id = ?",
        (user_id,),
    ).fetchone()[0]
    attachments = conn.execute(
        "SELECT COALESCE(SUM(LENGTH(attachments.data_packet)), 0) FROM attachments"
        " JOIN messages ON messages.id = attachments.message_id"
        " WHERE messages.user_id = ?",
        (user_id,),
    ).fetchone()[0]
    return int(bodies) + int(attachments)


def user_json(conn: sqlite3.Connection, user: sqlite3.Row) -> dict[str, Any]:
    addresses = user_addresses(conn, user["id"])
    keys = conn.execute(
        "SELECT * FROM user_keys WHERE user_id = ? ORDER BY is_primary DESC",
        (user["id"],),
    ).fetchall()
    space = used_space(conn, user["id"])
    paid = not user["free_plan"]

    return {
        "ID": user["id"],
        "Name": user["name"],
        "DisplayName": user["display_name"],
        "Email": addresses[0]["email"] if addresses else "",
        "Keys": [
            {
                "ID": key["id"],
                "Version": 3,
                "PrivateKey": key["private_key"],
                "Fingerprint": key["fingerprint"],
                "Primary": key["is_primary"],
                "Active": 1,
                "Flags": KEY_FLAGS_ACTIVE,
            }
            for key in keys
        ],
        "UsedSpace": space,
        "MaxSpace": MAX_SPACE,
        "MaxUpload": MAX_UPLOAD,
        "Credit": 0,
        "Currency": "EUR",
        "Role": 2 if paid else 0,
        "Private": 1,
        "Subscribed": 1 if paid else 0,
        "Services": 1,
        "Delinquent": 0,
        "Type": 1,
        "ProductUsedSpace": {
            "Calendar": 0,
            "Contact": 0,
            "Drive": 0,
            "Mail": space,
            "Pass": 0,
        },
    }


def address_json(conn: sqlite3.Connection, address: sqlite3.Row) -> dict[str, Any]:
    keys = conn.execute(
        "SELECT * FROM address_keys WHERE address_id = ? ORDER BY is_primary DESC",
        (address["id"],),
    ).fetchall()

    return {
        "ID": address["id"],
        "Email": address["email"],
        "Send": address["send"],
        "Receive": address["receive"],
        "Status": address["status"],
        "Type": address["type"],
        "Order": address["ord"],
        "DisplayName": address["display_name"],
        "Signature": "",
        "Keys": [
            {
                "ID": key["id"],
                "Version": 3,
                "PrivateKey": key["private_key"],
                "Token": key["token"],
                "Signature": key["signature"],
                "Fingerprint": key["fingerprint"],
                "Primary": key["is_primary"],
                "Active": 1,
                "Flags": KEY_FLAGS_ACTIVE,
            }
            for key in keys
        ],
    }


def mail_settings(user: sqlite3.Row) -> dict[str, Any]:
    settings = dict(DEFAULT_MAIL_SETTINGS)
    settings.update(store.loads(user["mail_settings"], {}))
    return settings


def update_mail_settings(
    conn: sqlite3.Connection, user_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    with store.transaction(conn):
        user = get_user(conn, user_id)
        settings = mail_settings(user)
        settings.update(changes)
        conn.execute(
            "UPDATE users SET mail_settings = ? WHERE id = ?",
            (store.dumps(settings), user_id),
        )
        events.record(conn, user_id, events.KIND_MAIL_SETTINGS)
    return settings
