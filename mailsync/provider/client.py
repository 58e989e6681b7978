"""The provider's HTTP API, as an async client.

One ``ProviderClient`` per account. It carries the session headers, refreshes
the access token once on a 401 (and hands the new session to
``on_session_refreshed`` so it can be stored), waits out 429s for as long as
the provider asks (within a bound), and retries 5xx answers and network
failures with exponential backoff and jitter. Whatever still fails is raised
as one of the exceptions in ``errors``.

Requests that create something (send, import, drafts, uploads) are retried
only when the provider surely did not act: 429, 503 and failed connections.
"""

import asyncio
import base64
import inspect
import json
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import httpx

from mailsync.provider import build, pgp, srp
from mailsync.provider.errors import (
    CODE_MULTI,
    CODE_OK,
    InvalidResponse,
    ProviderError,
    RateLimited,
    SessionRevoked,
    TwoFactorRequired,
    error_from_response,
    error_from_transport,
)
from mailsync.provider.types import (
    ActionResult,
    Address,
    Attachment,
    AuthInfo,
    DraftTemplate,
    Event,
    ImportRequest,
    ImportResult,
    Label,
    LoginResult,
    MailSettings,
    Message,
    MessageCount,
    MessageMetadata,
    PublicKeys,
    Salt,
    Session,
    User,
)

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
MAX_PAGE_SIZE = 150
METADATA_PAGE_SIZE = 128
MAX_IMPORT_BATCH = 10
MAX_IDS_PER_ACTION = 150
STALE_RETRIES = 5
REFRESH_REDIRECT_URI = "https://protonmail.ch"

SessionCallback = Callable[[Session], Awaitable[None] | None]


class ProviderClient:
    """An async client for one account's provider session.

    ``modulus_pubkey`` is the armored key that must have signed the SRP
    modulus (``modulus_key.PROVIDER_MODULUS_PUBKEY`` for the real provider).
    ``sleep`` exists so tests can watch the waits instead of sitting them out.
    """

    def __init__(
        self,
        base_url: str,
        app_version: str,
        modulus_pubkey: str,
        *,
        session: Session | None = None,
        on_session_refreshed: SessionCallback | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 60.0,
        user_agent: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.app_version = app_version
        self.modulus_pubkey = modulus_pubkey
        self.session = session
        self.on_session_refreshed = on_session_refreshed
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.two_factor_pending = False
        self._sleep = sleep
        self._refresh_lock = asyncio.Lock()

        headers = {"x-pm-appversion": app_version}
        if user_agent:
            headers["User-Agent"] = user_agent
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> "ProviderClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the one request path -------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        files: Any = None,
        data: dict[str, Any] | None = None,
        authenticated: bool = True,
        idempotent: bool = True,
        raw: bool = False,
        before_second_factor: bool = False,
    ) -> Any:
        """Send one API call with retries; the JSON answer (or bytes if raw).

        ``before_second_factor`` marks the calls a session may make while
        its second factor is still due (giving it, logging out).
        """
        refreshed = False
        attempt = 0

        while True:
            attempt += 1
            request_headers = dict(headers or {})
            if authenticated:
                request_headers.update(self._auth_headers(before_second_factor))

            try:
                response = await self._send(
                    method, path, json_body, params, request_headers, files, data
                )
            except httpx.HTTPError as exc:
                error = error_from_transport(exc)
                retryable = idempotent or isinstance(exc, httpx.ConnectError)
                if not retryable or attempt >= self.max_attempts:
                    raise error from exc
                await self._backoff(attempt, method, path, error)
                continue

            if response.is_success:
                return self._success(response, raw)

            error = error_from_response(
                response.status_code, _json_or_none(response), response.headers
            )

            if response.status_code == 401 and authenticated and not refreshed:
                refreshed = True
                await self._refresh_after_401(request_headers)
                continue

            if not self._may_retry(error, idempotent) or attempt >= self.max_attempts:
                raise error

            if isinstance(error, RateLimited):
                await self._wait_rate_limit(error, attempt, method, path)
            else:
                await self._backoff(attempt, method, path, error)

    async def _send(
        self,
        method: str,
        path: str,
        json_body: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str],
        files: Any,
        data: dict[str, Any] | None,
    ) -> httpx.Response:
        started = time.monotonic()
        response = await self._http.request(
            method,
            path,
            json=json_body,
            params=params,
            headers=headers,
            files=files,
            data=data,
        )
        logger.debug(
            "%s %s -> %s in %.0f ms",
            method,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response

    def _success(self, response: httpx.Response, raw: bool) -> Any:
        if raw:
            return response.content

        payload = _json_or_none(response)
        if not isinstance(payload, dict):
            raise InvalidResponse(
                message="the provider's answer is not a JSON object",
                status=response.status_code,
            )

        code = payload.get("Code", CODE_OK)
        if code not in (CODE_OK, CODE_MULTI):
            raise error_from_response(response.status_code, payload, response.headers)
        return payload

    def _auth_headers(self, before_second_factor: bool = False) -> dict[str, str]:
        if self.session is None:
            raise SessionRevoked(message="not logged in")
        if self.two_factor_pending and not before_second_factor:
            raise TwoFactorRequired(message="the second factor has not been given")
        return {
            "x-pm-uid": self.session.uid,
            "Authorization": f"Bearer {self.session.access_token}",
        }

    @staticmethod
    def _may_retry(error: ProviderError, idempotent: bool) -> bool:
        if not error.transient:
            return False
        if idempotent:
            return True
        # A create that failed with 429 or 503 was not carried out.
        return error.status in (429, 503)

    async def _backoff(
        self, attempt: int, method: str, path: str, error: ProviderError
    ) -> None:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        delay *= random.uniform(0.5, 1.5)
        logger.info(
            "%s %s failed (%s), retry %d in %.1f s",
            method,
            path,
            type(error).__name__,
            attempt,
            delay,
        )
        await self._sleep(delay)

    async def _wait_rate_limit(
        self, error: RateLimited, attempt: int, method: str, path: str
    ) -> None:
        delay = error.retry_after
        if delay is None:
            await self._backoff(attempt, method, path, error)
            return
        if delay > self.max_retry_after:
            # Waiting longer belongs to the caller's schedule, not to us.
            raise error
        logger.info("%s %s rate limited, waiting %.1f s", method, path, delay)
        await self._sleep(delay)

    async def _refresh_after_401(self, sent_headers: dict[str, str]) -> None:
        async with self._refresh_lock:
            # Another request may have refreshed while this one waited.
            sent = sent_headers.get("Authorization", "")
            if self.session and sent != f"Bearer {self.session.access_token}":
                return
            await self._refresh_locked()

    # -- auth -----------------------------------------------------------------

    async def auth_info(self, username: str) -> AuthInfo:
        payload = await self.request(
            "POST",
            "/auth/v4/info",
            json_body={"Username": username},
            authenticated=False,
        )
        return AuthInfo.from_api(payload)

    async def login(
        self,
        username: str,
        password: str | bytes,
        *,
        hv_token: str | None = None,
        hv_token_type: str | None = None,
    ) -> LoginResult:
        """Log in by SRP. The session is kept; store ``result.session``.

        Raises ``HumanVerificationRequired`` when the provider wants a
        person to prove themselves first: call again with the token.
        """
        if isinstance(password, str):
            password = password.encode("utf-8")

        info = await self.auth_info(username)
        modulus = srp.verify_modulus(info.modulus, self.modulus_pubkey)
        hashed = srp.hash_password(
            password, base64.b64decode(info.salt), modulus, info.version
        )
        proofs = srp.compute_proofs(
            hashed, modulus, base64.b64decode(info.server_ephemeral)
        )

        headers = {}
        if hv_token:
            headers["x-pm-human-verification-token"] = hv_token
            headers["x-pm-human-verification-token-type"] = hv_token_type or "captcha"

        payload = await self.request(
            "POST",
            "/auth/v4",
            json_body={
                "Username": username,
                "ClientEphemeral": _b64(proofs.client_ephemeral),
                "ClientProof": _b64(proofs.client_proof),
                "SRPSession": info.srp_session,
            },
            headers=headers,
            authenticated=False,
            idempotent=False,
        )
        srp.check_server_proof(proofs, base64.b64decode(payload.get("ServerProof", "")))

        two_factor = payload.get("2FA") or {}
        enabled = int(two_factor.get("Enabled") or payload.get("TwoFactor") or 0)
        self.session = Session(
            uid=str(payload["UID"]),
            access_token=str(payload["AccessToken"]),
            refresh_token=str(payload["RefreshToken"]),
            user_id=str(payload.get("UserID") or ""),
            scope=str(payload.get("Scope") or ""),
        )
        self.two_factor_pending = bool(enabled & 1)
        logger.info("logged in, second factor needed: %s", self.two_factor_pending)
        return LoginResult(
            session=self.session,
            two_factor_required=bool(enabled),
            fido2_available=bool(enabled & 2),
            password_mode=int(payload.get("PasswordMode") or 1),
        )

    async def submit_2fa(self, code: str) -> None:
        """Give the TOTP code; the session then gets its full scope."""
        payload = await self.request(
            "POST",
            "/auth/v4/2fa",
            json_body={"TwoFactorCode": code},
            idempotent=False,
            before_second_factor=True,
        )
        self.two_factor_pending = False

        scopes = payload.get("Scopes") or payload.get("Scope")
        if self.session is not None and scopes:
            if isinstance(scopes, list):
                scopes = " ".join(scopes)
            self.session.scope = str(scopes)

    async def refresh(self) -> Session:
        """Trade the refresh token for a new session (done on 401 anyway)."""
        async with self._refresh_lock:
            return await self._refresh_locked()

    async def _refresh_locked(self) -> Session:
        if self.session is None:
            raise SessionRevoked(message="not logged in")

        try:
            payload = await self.request(
                "POST",
                "/auth/v4/refresh",
                json_body={
                    "UID": self.session.uid,
                    "RefreshToken": self.session.refresh_token,
                    "ResponseType": "token",
                    "GrantType": "refresh_token",
                    "RedirectURI": REFRESH_REDIRECT_URI,
                    "State": secrets.token_urlsafe(16),
                },
                headers={"x-pm-uid": self.session.uid},
                authenticated=False,
            )
        except ProviderError as exc:
            if exc.transient:
                raise
            logger.warning("session refresh refused: %r", exc)
            raise SessionRevoked(exc.code, exc.message, exc.status) from exc

        self.session = Session(
            uid=str(payload.get("UID") or self.session.uid),
            access_token=str(payload["AccessToken"]),
            refresh_token=str(payload["RefreshToken"]),
            user_id=self.session.user_id,
            scope=str(payload.get("Scope") or self.session.scope),
        )
        logger.info("session refreshed")

        if self.on_session_refreshed is not None:
            outcome = self.on_session_refreshed(self.session)
            if inspect.isawaitable(outcome):
                await outcome
        return self.session

    async def logout(self) -> None:
        """End the session at the provider; forget it here either way."""
        try:
            await self.request("DELETE", "/auth/v4", before_second_factor=True)
        finally:
            self.session = None
            self.two_factor_pending = False

    async def get_modulus(self) -> dict[str, str]:
        payload = await self.request("GET", "/auth/v4/modulus", authenticated=False)
        return {
            "Modulus": payload.get("Modulus", ""),
            "ModulusID": payload.get("ModulusID", ""),
        }

    # -- user, addresses, keys, settings ---------------------------------------

    async def get_user(self) -> User:
        payload = await self.request("GET", "/core/v4/users")
        return User.from_api(payload["User"])

    async def get_addresses(self) -> list[Address]:
        payload = await self.request("GET", "/core/v4/addresses")
        addresses = [Address.from_api(a) for a in payload.get("Addresses") or []]
        return sorted(addresses, key=lambda address: address.order)

    async def get_address(self, address_id: str) -> Address:
        payload = await self.request("GET", f"/core/v4/addresses/{address_id}")
        return Address.from_api(payload["Address"])

    async def get_salts(self) -> list[Salt]:
        payload = await self.request("GET", "/core/v4/keys/salts")
        return [Salt.from_api(s) for s in payload.get("KeySalts") or []]

    async def get_public_keys(self, email: str) -> PublicKeys:
        payload = await self.request("GET", "/core/v4/keys", params={"Email": email})
        return PublicKeys.from_api(payload)

    async def get_mail_settings(self) -> MailSettings:
        payload = await self.request("GET", "/mail/v4/settings")
        return MailSettings.from_api(payload.get("MailSettings") or {})

    async def get_core_settings(self) -> dict[str, Any]:
        payload = await self.request("GET", "/core/v4/settings")
        return dict(payload.get("UserSettings") or {})

    async def get_contact_emails(self, email: str) -> list[dict[str, Any]]:
        payload = await self.request(
            "GET", "/contacts/v4/emails", params={"Email": email}
        )
        return list(payload.get("ContactEmails") or [])

    async def key_passphrase(self, password: str | bytes, user: User) -> bytes:
        """The passphrase of the user keys, from the (mailbox) password."""
        if isinstance(password, str):
            password = password.encode("utf-8")

        salts = {salt.id: salt.key_salt for salt in await self.get_salts()}
        primary = next((key for key in user.keys if key.primary), None)
        if primary is None and user.keys:
            primary = user.keys[0]
        key_salt = salts.get(primary.id, "") if primary else ""
        if not key_salt:
            # Accounts from before key salts use the password as it is.
            return password
        return srp.mailbox_password(password, base64.b64decode(key_salt))

    async def unlock(
        self,
        password: str | bytes | None = None,
        *,
        key_passphrase: bytes | None = None,
    ) -> "UnlockedAccount":
        """Fetch user, salts and addresses and unlock every key.

        Give the mailbox password (the login password in one-password mode),
        or the ``key_passphrase`` a previous unlock returned, which skips the
        slow bcrypt step.
        """
        user = await self.get_user()
        addresses = await self.get_addresses()

        if key_passphrase is None:
            if password is None:
                raise ValueError("give the password or the key passphrase")
            key_passphrase = await self.key_passphrase(password, user)

        keys = await asyncio.to_thread(pgp.unlock_keys, user, addresses, key_passphrase)
        logger.info("unlocked %d of %d addresses", len(keys.addresses), len(addresses))
        return UnlockedAccount(user, addresses, keys, key_passphrase)

    # -- labels ---------------------------------------------------------------

    async def get_labels(self, *types: int) -> list[Label]:
        labels: list[Label] = []
        for label_type in types or (1, 3, 4):
            payload = await self.request(
                "GET", "/core/v4/labels", params={"Type": label_type}
            )
            labels.extend(
                Label.from_api(label) for label in payload.get("Labels") or []
            )
        return labels

    async def create_label(
        self,
        name: str,
        label_type: int,
        *,
        color: str = "#f66",
        parent_id: str | None = None,
    ) -> Label:
        body: dict[str, Any] = {"Name": name, "Color": color, "Type": label_type}
        if parent_id:
            body["ParentID"] = parent_id
        payload = await self.request(
            "POST", "/core/v4/labels", json_body=body, idempotent=False
        )
        return Label.from_api(payload["Label"])

    async def update_label(
        self,
        label_id: str,
        *,
        name: str,
        color: str = "#f66",
        parent_id: str | None = None,
    ) -> Label:
        body: dict[str, Any] = {"Name": name, "Color": color}
        if parent_id is not None:
            body["ParentID"] = parent_id
        payload = await self.request(
            "PUT", f"/core/v4/labels/{label_id}", json_body=body
        )
        return Label.from_api(payload["Label"])

    async def delete_label(self, label_id: str) -> None:
        await self.request("DELETE", f"/core/v4/labels/{label_id}")

    # -- messages -------------------------------------------------------------

    async def list_messages(
        self,
        *,
        label_id: str | None = None,
        end_id: str | None = None,
        desc: bool = True,
        page: int = 0,
        page_size: int = MAX_PAGE_SIZE,
        ids: list[str] | None = None,
        address_id: str | None = None,
        external_id: str | None = None,
        subject: str | None = None,
    ) -> tuple[list[MessageMetadata], int]:
        """One page of message metadata and the total matching the filter."""
        body = _message_filter(
            label_id, end_id, desc, ids, address_id, external_id, subject
        )
        body.update({"Page": page, "PageSize": min(page_size, MAX_PAGE_SIZE)})
        payload = await self._list(body)
        messages = [MessageMetadata.from_api(m) for m in payload.get("Messages") or []]
        return messages, int(payload.get("Total") or 0)

    async def count_messages(
        self,
        *,
        label_id: str | None = None,
        address_id: str | None = None,
        external_id: str | None = None,
    ) -> int:
        """How many messages match, without listing them."""
        body = _message_filter(label_id, None, True, None, address_id, external_id)
        body["Limit"] = 0
        payload = await self._list(body)
        return int(payload.get("Total") or 0)

    async def _list(self, body: dict[str, Any]) -> dict[str, Any]:
        # The provider answers Stale=1 while its index catches up.
        for attempt in range(1, STALE_RETRIES + 1):
            payload = await self.request(
                "POST",
                "/mail/v4/messages",
                json_body=body,
                headers={"X-HTTP-Method-Override": "GET"},
            )
            if not payload.get("Stale"):
                return payload
            logger.info("message list is stale, asking again (%d)", attempt)
            await self._sleep(min(self.backoff_max, self.backoff_base * attempt))
        return payload

    async def iter_message_metadata(
        self,
        *,
        label_id: str | None = None,
        after_id: str | None = None,
        page_size: int = METADATA_PAGE_SIZE,
    ) -> AsyncIterator[list[MessageMetadata]]:
        """Pages of metadata, newest first, resuming below ``after_id``.

        Paging goes by ``EndID``: each page starts at the last message of
        the one before, which the provider returns again and we drop. Give
        the last ID seen as ``after_id`` to resume an interrupted walk.
        """
        end_id = after_id
        while True:
            page, _ = await self.list_messages(
                label_id=label_id, end_id=end_id, desc=True, page_size=page_size
            )
            fresh = [message for message in page if message.id != end_id]
            if not fresh:
                return
            yield fresh
            end_id = fresh[-1].id
            if len(page) < page_size:
                return

    async def get_message(self, message_id: str) -> Message:
        payload = await self.request("GET", f"/mail/v4/messages/{message_id}")
        return Message.from_api(payload["Message"])

    async def get_message_ids(self, after_id: str = "", limit: int = 1000) -> list[str]:
        params: dict[str, Any] = {"Limit": limit}
        if after_id:
            params["AfterID"] = after_id
        payload = await self.request("GET", "/mail/v4/messages/ids", params=params)
        return [str(message_id) for message_id in payload.get("IDs") or []]

    async def iter_message_ids(self, page_size: int = 1000) -> AsyncIterator[str]:
        """Every message ID, oldest first, in pages of ``page_size``."""
        after_id = ""
        while True:
            ids = await self.get_message_ids(after_id, page_size)
            for message_id in ids:
                yield message_id
            if len(ids) < page_size:
                return
            after_id = ids[-1]

    async def get_message_counts(self) -> list[MessageCount]:
        payload = await self.request("GET", "/mail/v4/messages/count")
        return [MessageCount.from_api(c) for c in payload.get("Counts") or []]

    async def mark_read(self, ids: Iterable[str]) -> None:
        await self._put_ids("/mail/v4/messages/read", ids)

    async def mark_unread(self, ids: Iterable[str]) -> None:
        await self._put_ids("/mail/v4/messages/unread", ids)

    async def mark_forwarded(self, ids: Iterable[str]) -> None:
        await self._put_ids("/mail/v4/messages/forward", ids)

    async def mark_unforwarded(self, ids: Iterable[str]) -> None:
        await self._put_ids("/mail/v4/messages/unforward", ids)

    async def delete_messages(self, ids: Iterable[str]) -> None:
        """Delete for good (what EXPUNGE in Trash or Drafts does)."""
        await self._put_ids("/mail/v4/messages/delete", ids)

    async def _put_ids(self, path: str, ids: Iterable[str]) -> list[ActionResult]:
        results: list[ActionResult] = []
        for chunk in _chunks(list(ids), MAX_IDS_PER_ACTION):
            payload = await self.request("PUT", path, json_body={"IDs": chunk})
            results.extend(
                ActionResult.from_api(r) for r in payload.get("Responses") or []
            )
        return results

    async def label_messages(
        self, ids: Iterable[str], label_id: str
    ) -> list[ActionResult]:
        """Add a label (or move into a folder); one result per message."""
        return await self._label_action("/mail/v4/messages/label", ids, label_id)

    async def unlabel_messages(
        self, ids: Iterable[str], label_id: str
    ) -> list[ActionResult]:
        return await self._label_action("/mail/v4/messages/unlabel", ids, label_id)

    async def _label_action(
        self, path: str, ids: Iterable[str], label_id: str
    ) -> list[ActionResult]:
        results: list[ActionResult] = []
        for chunk in _chunks(list(ids), MAX_IDS_PER_ACTION):
            payload = await self.request(
                "PUT", path, json_body={"LabelID": label_id, "IDs": chunk}
            )
            results.extend(
                ActionResult.from_api(r) for r in payload.get("Responses") or []
            )
        return results

    async def import_messages(
        self, keyring: pgp.KeyRing, requests: list[ImportRequest]
    ) -> list[ImportResult]:
        """Import raw messages, encrypted to ``keyring``; results in order."""
        results: list[ImportResult] = []
        for batch in _chunks(requests, MAX_IMPORT_BATCH):
            encrypted = await asyncio.to_thread(_encrypt_for_import, keyring, batch)
            results.extend(await self._import_batch(batch, encrypted))
        return results

    async def _import_batch(
        self, batch: list[ImportRequest], encrypted: list[bytes]
    ) -> list[ImportResult]:
        files: list[tuple[str, tuple[str | None, bytes, str]]] = []
        for index, literal in enumerate(encrypted):
            files.append((str(index), (f"{index}.eml", literal, "message/rfc822")))
        metadata = {str(i): request.metadata() for i, request in enumerate(batch)}
        files.append(
            ("Metadata", (None, json.dumps(metadata).encode(), "application/json"))
        )

        payload = await self.request(
            "POST", "/mail/v4/messages/import", files=files, idempotent=False
        )

        by_name = {}
        for item in payload.get("Responses") or []:
            response = item.get("Response") or {}
            by_name[str(item.get("Name"))] = ImportResult(
                code=int(response.get("Code") or 0),
                message_id=str(response.get("MessageID") or ""),
                error=str(response.get("Error") or ""),
            )
        missing = ImportResult(code=0, error="the provider gave no answer for it")
        return [by_name.get(str(i), missing) for i in range(len(batch))]

    async def fetch_rfc822(
        self, account: "UnlockedAccount", message_id: str
    ) -> tuple[Message, bytes]:
        """Download, decrypt and build one message: what IMAP will serve."""
        message = await self.get_message(message_id)
        packets = await asyncio.gather(
            *(self.get_attachment(a.id) for a in message.attachments)
        )
        keyring = account.keyring(message.address_id)
        literal = await asyncio.to_thread(
            _decrypt_and_build, keyring, message, list(packets)
        )
        return message, literal

    # -- drafts, attachments, sending -----------------------------------------

    async def create_draft(
        self,
        template: DraftTemplate,
        *,
        parent_id: str | None = None,
        action: int | None = None,
        attachment_key_packets: dict[str, str] | None = None,
    ) -> Message:
        body: dict[str, Any] = {
            "Message": template.to_api(),
            "AttachmentKeyPackets": attachment_key_packets or {},
        }
        if parent_id:
            body["ParentID"] = parent_id
            body["Action"] = 0 if action is None else action
        payload = await self.request(
            "POST", "/mail/v4/messages", json_body=body, idempotent=False
        )
        return Message.from_api(payload["Message"])

    async def update_draft(self, draft_id: str, template: DraftTemplate) -> Message:
        payload = await self.request(
            "PUT",
            f"/mail/v4/messages/{draft_id}",
            json_body={"Message": template.to_api()},
        )
        return Message.from_api(payload["Message"])

    async def get_attachment(self, attachment_id: str) -> bytes:
        """The attachment's data packet (decrypt with its key packets)."""
        return await self.request(
            "GET", f"/mail/v4/attachments/{attachment_id}", raw=True
        )

    async def upload_attachment(
        self,
        message_id: str,
        *,
        filename: str,
        mime_type: str,
        split: pgp.SplitMessage,
        signature: bytes,
        disposition: str = "attachment",
        content_id: str = "",
    ) -> Attachment:
        fields = {
            "MessageID": message_id,
            "Filename": filename,
            "MIMEType": mime_type,
            "Disposition": disposition,
        }
        if content_id:
            fields["ContentID"] = content_id
        files = [
            ("KeyPackets", ("blob", split.key_packets, "application/octet-stream")),
            ("DataPacket", ("blob", split.data_packet, "application/octet-stream")),
            ("Signature", ("blob", signature, "application/octet-stream")),
        ]
        payload = await self.request(
            "POST",
            "/mail/v4/attachments",
            data=fields,
            files=files,
            idempotent=False,
        )
        return Attachment.from_api(payload["Attachment"])

    async def send_draft(
        self, draft_id: str, packages: list[dict[str, Any]]
    ) -> Message:
        """Send a draft with one package per MIME type; the Sent message."""
        payload = await self.request(
            "POST",
            f"/mail/v4/messages/{draft_id}",
            json_body={"Packages": packages},
            idempotent=False,
        )
        return Message.from_api(payload["Sent"])

    # -- events ---------------------------------------------------------------

    async def get_latest_event_id(self) -> str:
        payload = await self.request("GET", "/core/v4/events/latest")
        return str(payload["EventID"])

    async def get_event(self, event_id: str) -> Event:
        payload = await self.request("GET", f"/core/v4/events/{event_id}")
        return Event.from_api(payload)


class UnlockedAccount:
    """User, addresses and their unlocked keys, for sync and SMTP.

    ``key_passphrase`` is what to keep (encrypted at rest) to unlock again
    without the password.
    """

    def __init__(
        self,
        user: User,
        addresses: list[Address],
        keys: pgp.UnlockedKeys,
        key_passphrase: bytes,
    ) -> None:
        self.user = user
        self.addresses = addresses
        self.keys = keys
        self.key_passphrase = key_passphrase

    def __repr__(self) -> str:
        return f"UnlockedAccount(user={self.user.id!r}, keys={self.keys!r})"

    def keyring(self, address_id: str) -> pgp.KeyRing:
        return self.keys.for_address(address_id)

    def address_by_email(self, email: str) -> Address | None:
        wanted = email.strip().lower()
        return next((a for a in self.addresses if a.email.lower() == wanted), None)


def _encrypt_for_import(keyring: pgp.KeyRing, batch: list[ImportRequest]) -> list:
    # The whole message is encrypted as one piece, so the provider gives back
    # exactly these bytes; the envelope is the PGP/MIME form the route takes.
    return [
        build.pgp_mime_envelope(
            request.message, keyring.encrypt(request.message), secrets.token_hex(8)
        )
        for request in batch
    ]


def _decrypt_and_build(
    keyring: pgp.KeyRing, message: Message, packets: list[bytes]
) -> bytes:
    body = keyring.decrypt(message.body)
    attachments = [
        (
            attachment,
            keyring.decrypt_split(base64.b64decode(attachment.key_packets), data),
        )
        for attachment, data in zip(message.attachments, packets, strict=True)
    ]
    return build.build_message(message, body, attachments)


def _message_filter(
    label_id: str | None,
    end_id: str | None,
    desc: bool,
    ids: list[str] | None,
    address_id: str | None,
    external_id: str | None,
    subject: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"Sort": "ID", "Desc": int(desc)}
    optional = {
        "LabelID": label_id,
        "EndID": end_id,
        "ID": ids,
        "AddressID": address_id,
        "ExternalID": external_id,
        "Subject": subject,
    }
    body.update({key: value for key, value in optional.items() if value})
    return body


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]
