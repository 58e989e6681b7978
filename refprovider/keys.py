"""Key routes: the user's key salts and anyone's public keys by address.

Addresses of this provider answer with their own keys (RecipientType 1).
Outside addresses answer with RecipientType 2, and with the keys the
provider found for them (through WKD or a contact) when the control API
registered some; without keys the sender writes to them in the clear.
"""

import base64
import logging
import sqlite3

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api, pgp, store, users
from .auth import authenticated, provider_of

logger = logging.getLogger(__name__)

RECIPIENT_INTERNAL = 1
RECIPIENT_EXTERNAL = 2


class ExternalKeyError(Exception):
    """An outside key cannot be registered as asked."""


def add_external_key(conn: sqlite3.Connection, email: str, armored: str) -> str:
    """Register a public key for an outside address; return its fingerprint."""
    address = users.find_address(conn, email)
    if address is not None:
        raise ExternalKeyError(f"{email} is an address of this provider")

    try:
        key = pgp.load_key(armored)
        public_armored = pgp.public_key(armored)
    except pgp.PGPFailure as error:
        raise ExternalKeyError(f"PublicKey is not an OpenPGP key: {error}") from error
    fingerprint = pgp.fingerprint_of(key)

    with store.transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO external_keys (email, fingerprint, public_key)"
            " VALUES (?, ?, ?)",
            (email, fingerprint, public_armored),
        )
    logger.info("Registered outside key %s", fingerprint)
    return fingerprint


def remove_external_keys(conn: sqlite3.Connection, email: str | None = None) -> int:
    """Forget the outside keys of one address, or of all when email is None."""
    with store.transaction(conn):
        if email is None:
            cursor = conn.execute("DELETE FROM external_keys")
        else:
            cursor = conn.execute("DELETE FROM external_keys WHERE email = ?", (email,))
    return cursor.rowcount


def external_keys(
    conn: sqlite3.Connection, email: str | None = None
) -> list[sqlite3.Row]:
    """Registered outside keys, oldest first (the first is the one to use)."""
    if email is None:
        return conn.execute("SELECT * FROM external_keys ORDER BY seq").fetchall()
    return conn.execute(
        "SELECT * FROM external_keys WHERE email = ? ORDER BY seq", (email,)
    ).fetchall()


@authenticated()
async def get_key_salts(request: Request) -> JSONResponse:
    provider = provider_of(request)
    rows = provider.conn.execute(
        "SELECT id, key_salt FROM user_keys WHERE user_id = ?",
        (request.state.user_id,),
    ).fetchall()

    salts = [
        {"ID": row["id"], "KeySalt": base64.b64encode(bytes(row["key_salt"])).decode()}
        for row in rows
    ]
    return api.ok({"KeySalts": salts})


@authenticated()
async def get_public_keys(request: Request) -> JSONResponse:
    provider = provider_of(request)
    email = api.as_str(request.query_params.get("Email"), "Email").strip()

    address = users.find_address(provider.conn, email)
    if address is None or not address["receive"]:
        outside = [
            {"Flags": users.KEY_FLAGS_ACTIVE, "PublicKey": row["public_key"]}
            for row in external_keys(provider.conn, email)
        ]
        return api.ok(
            {
                "RecipientType": RECIPIENT_EXTERNAL,
                "MIMEType": "text/html",
                "Keys": outside,
            }
        )

    keys = [
        {"Flags": users.KEY_FLAGS_ACTIVE, "PublicKey": key.public_key}
        for key in users.address_keys(provider.conn, address["id"])
    ]
    return api.ok(
        {"RecipientType": RECIPIENT_INTERNAL, "MIMEType": "text/html", "Keys": keys}
    )
