"""The running provider: its database, its signing key and its live settings.

Settings that tests change at run time (token life, offline mode, faults,
updates per event) live in memory; everything else is in the database so that
the CLI can work on the same data directory while the server runs.
"""

import base64
import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import pgp, srp, store
from .faults import FaultRules

logger = logging.getLogger(__name__)

MODULUS_PUBKEY_FILE = "modulus-pubkey.asc"
DEFAULT_AUTH_LIFE = 3600
DEFAULT_MAX_UPDATES_PER_EVENT = 50
SRP_SESSION_LIFE = 600


@dataclass
class SigningIdentity:
    """The provider's own key that signs the SRP modulus."""

    private_key: str
    passphrase: str
    public_key: str
    signed_modulus: str
    modulus_id: str


def load_signing_identity(conn: sqlite3.Connection, data_dir: Path) -> SigningIdentity:
    """Create the provider key and signed modulus on first use, then reuse them."""
    passphrase = store.get_state(conn, "modulus_key_passphrase")
    private_key = store.get_state(conn, "modulus_private_key")

    if passphrase is None or private_key is None:
        candidate_passphrase = secrets.token_hex(16)
        candidate = pgp.generate_key(
            "Reference provider SRP modulus",
            "modulus@refprovider.test",
            candidate_passphrase,
        )
        # Two processes may race on a fresh directory; the first insert wins.
        with store.transaction(conn):
            store.set_state_once(conn, "modulus_key_passphrase", candidate_passphrase)
            store.set_state_once(conn, "modulus_private_key", candidate.private_armored)
            passphrase = store.get_state(conn, "modulus_key_passphrase")
            private_key = store.get_state(conn, "modulus_private_key")

    assert passphrase is not None and private_key is not None

    signed = store.get_state(conn, "signed_modulus")
    if signed is None:
        encoded = base64.b64encode(srp.modulus_bytes()).decode("ascii")
        signed = store.set_state_once(
            conn, "signed_modulus", pgp.cleartext_sign(encoded, private_key, passphrase)
        )

    modulus_id = store.set_state_once(conn, "modulus_id", store.new_id())
    public_key = pgp.public_key(private_key)

    pubkey_file = Path(data_dir) / MODULUS_PUBKEY_FILE
    if not pubkey_file.exists() or pubkey_file.read_text() != public_key:
        pubkey_file.write_text(public_key)

    return SigningIdentity(private_key, passphrase, public_key, signed, modulus_id)


@dataclass
class PendingLogin:
    session: srp.ServerSession
    username: str


@dataclass
class Provider:
    """Everything a request handler needs."""

    data_dir: Path
    conn: sqlite3.Connection
    identity: SigningIdentity
    auth_life: float = DEFAULT_AUTH_LIFE
    max_updates_per_event: int = DEFAULT_MAX_UPDATES_PER_EVENT
    offline: bool = False
    min_app_version: tuple[int, ...] | None = None
    faults: FaultRules = field(default_factory=FaultRules)
    pending_logins: dict[str, PendingLogin] = field(default_factory=dict)

    @classmethod
    def open(cls, data_dir: Path) -> "Provider":
        conn = store.connect(data_dir)
        identity = load_signing_identity(conn, data_dir)
        return cls(data_dir=Path(data_dir), conn=conn, identity=identity)

    def remember_login(self, session_id: str, login: PendingLogin) -> None:
        self._forget_stale_logins()
        self.pending_logins[session_id] = login

    def take_login(self, session_id: str) -> PendingLogin | None:
        self._forget_stale_logins()
        return self.pending_logins.pop(session_id, None)

    def _forget_stale_logins(self) -> None:
        cutoff = time.monotonic() - SRP_SESSION_LIFE
        for session_id, login in list(self.pending_logins.items()):
            if login.session.created < cutoff:
                del self.pending_logins[session_id]
