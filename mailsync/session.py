"""An authenticated provider client for a linked account, and its keys.

Used by the sync, the event loop, IMAP and SMTP::

    async with open_session(account_id) as session:
        metadata = await session.client.list_messages(...)
        unlocked = await session.unlocked()     # keys, fetched lazily

Refreshed tokens are written back to the account at once (sealed). Several
processes share one provider session, and the provider rotates refresh
tokens, so before refreshing the client first looks whether another process
already did and takes that session instead.
"""

import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from accounts.models import LinkedAccount
from mailsync.provider.client import ProviderClient, UnlockedAccount
from mailsync.provider.errors import KeyUnlockError, SessionRevoked
from mailsync.provider.modulus_key import PROVIDER_MODULUS_PUBKEY
from mailsync.provider.types import Session

logger = logging.getLogger(__name__)


class NotLinked(Exception):
    """The account has no provider session to act with (log in again)."""


class KeysLocked(NotLinked):
    """The stored key passphrase no longer unlocks the account's keys."""


def modulus_pubkey() -> str:
    """The key that must sign SRP moduli: armored text or a file path."""
    configured = (settings.BRIDGE_PROVIDER_MODULUS_KEY or "").strip()
    if not configured:
        return PROVIDER_MODULUS_PUBKEY
    if configured.startswith("-----BEGIN"):
        return configured
    return Path(configured).expanduser().read_text()


def client_options(**overrides) -> dict:
    """Retry behaviour of provider clients; the settings may tune it.

    ``BRIDGE_PROVIDER_ATTEMPTS`` (tries per call) and
    ``BRIDGE_PROVIDER_BACKOFF`` (first wait, in seconds) are optional.
    """
    options: dict[str, Any] = {}
    attempts = getattr(settings, "BRIDGE_PROVIDER_ATTEMPTS", None)
    backoff = getattr(settings, "BRIDGE_PROVIDER_BACKOFF", None)
    if attempts:
        options["max_attempts"] = int(attempts)
    if backoff is not None:
        options["backoff_base"] = float(backoff)
    options.update(overrides)
    return options


def new_client(**options) -> ProviderClient:
    """A provider client configured from the settings, with no session."""
    return ProviderClient(
        settings.BRIDGE_PROVIDER_URL,
        settings.BRIDGE_APP_VERSION,
        modulus_pubkey(),
        **client_options(**options),
    )


def encode_key_passphrase(passphrase: bytes) -> str:
    # Stored as text in a sealed field; base64 keeps any byte intact.
    return base64.b64encode(passphrase).decode("ascii")


def decode_key_passphrase(stored: str) -> bytes:
    return base64.b64decode(stored)


def stored_session(account: LinkedAccount) -> Session | None:
    uid = account.session_uid
    if not uid:
        return None
    return Session(
        uid=uid,
        access_token=account.access_token,
        refresh_token=account.refresh_token,
        user_id=account.provider_user_id,
    )


def store_session(account_id: int, session: Session) -> None:
    account = LinkedAccount.objects.get(id=account_id)
    account.session_uid = session.uid
    account.access_token = session.access_token
    account.refresh_token = session.refresh_token
    account.save(
        update_fields=[
            "session_uid_sealed",
            "access_token_sealed",
            "refresh_token_sealed",
            "updated_at",
        ]
    )


def _load_session(account_id: int) -> Session | None:
    account = LinkedAccount.objects.filter(id=account_id).first()
    return stored_session(account) if account else None


class AccountClient(ProviderClient):
    """A provider client whose session lives in the account row."""

    def __init__(self, account_id: int, session: Session, **options) -> None:
        super().__init__(
            settings.BRIDGE_PROVIDER_URL,
            settings.BRIDGE_APP_VERSION,
            modulus_pubkey(),
            session=session,
            on_session_refreshed=self._persist,
            **client_options(**options),
        )
        self.account_id = account_id

    async def _persist(self, session: Session) -> None:
        await sync_to_async(store_session)(self.account_id, session)

    async def _refresh_locked(self) -> Session:
        tried = self.session
        stored = await sync_to_async(_load_session)(self.account_id)
        if stored and tried and stored.access_token != tried.access_token:
            # Another process refreshed since this client loaded the row.
            logger.info(
                "account %s: using the session another process refreshed",
                self.account_id,
            )
            self.session = stored
            return stored

        try:
            return await super()._refresh_locked()
        except SessionRevoked:
            stored = await sync_to_async(_load_session)(self.account_id)
            if stored and tried and stored.refresh_token != tried.refresh_token:
                self.session = stored
                return stored
            raise


class AccountSession:
    """A client for one account plus its keys, unlocked on first use."""

    def __init__(self, account: LinkedAccount, client: AccountClient) -> None:
        self.account_id = account.id
        self.client = client
        self._key_passphrase = account.key_passphrase
        self._unlocked: UnlockedAccount | None = None

    async def unlocked(self) -> UnlockedAccount:
        """User, addresses and unlocked keys (fetched once per session)."""
        if self._unlocked is None:
            if not self._key_passphrase:
                raise KeysLocked("no key passphrase is stored for this account")
            try:
                self._unlocked = await self.client.unlock(
                    key_passphrase=decode_key_passphrase(self._key_passphrase)
                )
            except KeyUnlockError as exc:
                # The password was changed elsewhere: only a new login helps.
                raise KeysLocked(str(exc)) from exc
        return self._unlocked

    def forget_keys(self) -> None:
        """Unlock again on next use (after the addresses or keys changed)."""
        self._unlocked = None

    async def aclose(self) -> None:
        await self.client.aclose()


def _load_account(account_id: int) -> LinkedAccount:
    return LinkedAccount.objects.get(id=account_id)


async def start_session(account_id: int, **client_options) -> AccountSession:
    """Build the session of a linked account; close it with ``aclose``."""
    account = await sync_to_async(_load_account)(account_id)
    session = stored_session(account)
    if session is None:
        raise NotLinked(f"account {account_id} has no provider session")

    client = AccountClient(account.id, session, **client_options)
    return AccountSession(account, client)


@asynccontextmanager
async def open_session(
    account_id: int, **client_options
) -> AsyncIterator[AccountSession]:
    session = await start_session(account_id, **client_options)
    try:
        yield session
    finally:
        await session.aclose()
