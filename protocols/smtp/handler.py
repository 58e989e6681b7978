"""What the SMTP listener does with each command of a submission.

aiosmtpd runs the protocol; this handler decides: who may log in (AUTH PLAIN
and LOGIN, checked by :mod:`protocols.auth`), who may be the sender (MAIL
FROM), and what happens to the message (DATA, through
:func:`mailsync.send.send_message`). Every refusal carries an enhanced status
code and a sentence a person can act on.

A message is acknowledged with 250 only after the provider accepted it. A
failure where trying again may help is a 451, so the mail program keeps the
message and retries; one where it cannot is a 5xx.
"""

import asyncio
import binascii
import logging
import time
from base64 import b64decode
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from asgiref.sync import sync_to_async

from accounts.models import Activity, Address, record_activity
from mailsync.provider.errors import CryptoError, ProviderError
from mailsync.send import SendFailed, SendResult, find_sending_address, send_message
from mailsync.session import AccountSession, NotLinked, start_session
from protocols.auth import Authenticated, AuthFailed, LoginThrottled, authenticate

logger = logging.getLogger(__name__)

# A send that takes longer than this is abandoned (and cleaned up): mail
# programs give up waiting for the reply to DATA after a few minutes.
SEND_DEADLINE_SECONDS = 150.0

# The provider takes at most this many recipients per message.
MAX_RECIPIENTS = 100

# Provider sessions are kept between messages; one unused this long is closed.
SESSION_IDLE_SECONDS = 10 * 60

# The longest "Retry-After" from the provider worth waiting out inside one
# DATA command. Mail programs stop waiting for the reply after about a minute
# and the provider client retries a few times; a longer wait is answered with
# a 451 at once, and the mail program tries again later.
MAX_RETRY_AFTER_SECONDS = 10.0


def connection_name(session: Session) -> str:
    """How log lines name a connection: the peer's address and port."""
    peer = session.peer
    if isinstance(peer, tuple | list) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class SessionPool:
    """Provider sessions (client and unlocked keys) shared by connections."""

    def __init__(self, client_options: dict[str, Any] | None = None) -> None:
        self.client_options = {
            "max_retry_after": MAX_RETRY_AFTER_SECONDS,
            **(client_options or {}),
        }
        self._sessions: dict[int, tuple[AccountSession, float]] = {}
        self._lock = asyncio.Lock()

    async def get(self, account_id: int) -> AccountSession:
        async with self._lock:
            await self._close_idle()
            entry = self._sessions.get(account_id)
            if entry is None:
                session = await start_session(account_id, **self.client_options)
            else:
                session = entry[0]
            self._sessions[account_id] = (session, time.monotonic())
            return session

    async def drop(self, account_id: int) -> None:
        """Forget an account's session (its tokens or keys went stale)."""
        async with self._lock:
            entry = self._sessions.pop(account_id, None)
        if entry is not None:
            await entry[0].aclose()

    async def aclose(self) -> None:
        async with self._lock:
            sessions = [entry[0] for entry in self._sessions.values()]
            self._sessions.clear()
        for session in sessions:
            await session.aclose()

    async def _close_idle(self) -> None:
        cutoff = time.monotonic() - SESSION_IDLE_SECONDS
        for account_id, (session, used) in list(self._sessions.items()):
            if used < cutoff:
                del self._sessions[account_id]
                await session.aclose()


# How long an abandoned send may take to remove its draft before the reply.
CANCELLED_SEND_CLEANUP_SECONDS = 15


class Transactions:
    """Counts DATA commands in progress, so a shutdown can wait for them.

    A transaction counts until its reply is written: a message sent but not
    yet acknowledged is in progress too. The send behind a command is
    tracked apart: it may outlive its command (cancelled when the connection
    ends) and still have to remove its draft.
    """

    def __init__(self) -> None:
        self.active = 0
        self.stopping = False
        self._sends: set[asyncio.Task] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @contextmanager
    def running(self) -> Iterator[None]:
        self.active += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.active -= 1
            self._update_idle()

    def track(self, send: asyncio.Task) -> None:
        """Keep a shutdown waiting until ``send`` has really finished."""
        self._sends.add(send)
        self._idle.clear()
        send.add_done_callback(self._send_done)

    def _send_done(self, send: asyncio.Task) -> None:
        # Its outcome was either awaited or no longer matters; reading it
        # here keeps asyncio from reporting an exception nobody retrieved.
        if not send.cancelled():
            send.exception()
        self._sends.discard(send)
        self._update_idle()

    def _update_idle(self) -> None:
        if self.active == 0 and not self._sends:
            self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()


class SubmissionHandler:
    """aiosmtpd hooks for mail submission by an authenticated mail program."""

    def __init__(
        self,
        sessions: SessionPool,
        transactions: Transactions,
        *,
        send_deadline: float = SEND_DEADLINE_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.transactions = transactions
        self.send_deadline = send_deadline

    # -- AUTH -----------------------------------------------------------------
    # Own PLAIN and LOGIN mechanisms: aiosmtpd's call a synchronous checker,
    # and ours must reach the database without blocking the loop.

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await _challenge(server, "")
            if blob is None:
                # challenge_auth has answered already (abort or bad base64).
                return AuthResult(success=False, handled=True)
        else:
            blob = _b64(args[1])
            if blob is None:
                return _auth_reply("501 5.5.2 The credentials are not valid base64.")

        parts = blob.split(b"\x00")
        if len(parts) != 3:
            return _auth_reply("501 5.5.2 AUTH PLAIN needs authzid, user and password.")
        return await self._login(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            username = await _challenge(server, server.AuthLoginUsernameChallenge)
            if username is None:
                return AuthResult(success=False, handled=True)
        else:
            username = _b64(args[1])
            if username is None:
                return _auth_reply("501 5.5.2 The user name is not valid base64.")

        password = await _challenge(server, server.AuthLoginPasswordChallenge)
        if password is None:
            return AuthResult(success=False, handled=True)
        return await self._login(server, username, password)

    async def _login(
        self, server: SMTP, username: bytes, password: bytes
    ) -> AuthResult:
        session = server.session
        assert session is not None  # set when the connection opened
        name = connection_name(session)
        try:
            login = username.decode("utf-8").strip()
            secret = password.decode("utf-8")
        except UnicodeDecodeError:
            return _auth_reply(
                "535 5.7.8 Authentication failed: unreadable credentials."
            )

        try:
            authenticated = await authenticate(
                login, secret, session.peer, protocol="SMTP"
            )
        except LoginThrottled as exc:
            logger.warning("%s AUTH as %r refused: throttled", name, login)
            return _auth_reply(f"454 4.7.0 {exc}")
        except AuthFailed as exc:
            logger.info("%s AUTH as %r failed", name, login)
            return _auth_reply(f"535 5.7.8 Authentication failed: {exc}")

        logger.info("%s AUTH as %s", name, login)
        return AuthResult(success=True, auth_data=authenticated)

    # -- MAIL, RCPT, DATA -----------------------------------------------------

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.transactions.stopping:
            return "421 4.3.2 The bridge is shutting down; try again in a moment."

        authenticated = _authenticated(session)
        senders = await sync_to_async(allowed_senders)(authenticated)
        if find_sending_address(senders, address) is None:
            logger.info(
                "%s MAIL FROM %r refused: not a sending address",
                connection_name(session),
                address,
            )
            return (
                f"550 5.7.1 {address} is not an address this login may send "
                "from; use one of the account's enabled addresses."
            )

        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not is_mailbox_address(address):
            # aiosmtpd lets "<>" and a bare local part through; the provider
            # would take them and report the message sent to nobody.
            logger.info(
                "%s RCPT TO %r refused: not an address",
                connection_name(session),
                address,
            )
            return (
                f"553 5.1.3 {address or '<>'} is not a recipient address; "
                "use name@domain."
            )
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return f"452 4.5.3 At most {MAX_RECIPIENTS} recipients per message."

        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        name = connection_name(session)
        authenticated = _authenticated(session)
        raw = envelope.original_content or b""
        if self.transactions.stopping:
            return "421 4.3.2 The bridge is shutting down; try again in a moment."

        started = time.monotonic()
        # The send runs as its own task: aiosmtpd may cancel this handler
        # more than once when a connection ends, and a second cancel must not
        # cut the send's own cleanup (removing its draft) short.
        send = asyncio.ensure_future(self._send(authenticated, envelope, raw))
        self.transactions.track(send)
        try:
            result = await asyncio.wait_for(asyncio.shield(send), self.send_deadline)
        except TimeoutError:
            await _cancel_and_wait(send)
            logger.warning("%s send abandoned after %.0f s", name, self.send_deadline)
            await _record(
                authenticated,
                Activity.Kind.ERROR,
                "Sending failed: the provider took too long; the mail "
                "program will try again.",
            )
            return (
                "451 4.4.7 The provider did not answer in time; the message "
                "was not sent. Try again later."
            )
        except asyncio.CancelledError:
            send.cancel()
            raise
        except SendFailed as exc:
            logger.info(
                "%s send refused (%s, transient=%s)", name, exc.kind, exc.transient
            )
            await _record(authenticated, Activity.Kind.ERROR, f"Sending failed: {exc}")
            return send_failure_reply(exc)

        logger.info(
            "%s message accepted as %s%s in %.1f s",
            name,
            result.message_id,
            " (duplicate)" if result.duplicate else "",
            time.monotonic() - started,
        )
        if not result.duplicate:
            await _record(
                authenticated,
                Activity.Kind.SEND,
                f"Sent a message from {envelope.mail_from} to "
                f"{len(envelope.rcpt_tos)} recipient(s)",
            )
        return "250 2.0.0 Message sent"

    async def _send(
        self, authenticated: Authenticated, envelope: Envelope, raw: bytes
    ) -> SendResult:
        try:
            return await self._send_once(authenticated, envelope, raw)
        except SendFailed as exc:
            if exc.kind != "sender":
                raise
        # The provider's address list may have changed since the keys were
        # unlocked (an address added or enabled): unlock again, check again.
        account_session = await self.sessions.get(authenticated.account.pk)
        account_session.forget_keys()
        return await self._send_once(authenticated, envelope, raw)

    async def _send_once(
        self, authenticated: Authenticated, envelope: Envelope, raw: bytes
    ) -> SendResult:
        account_id = authenticated.account.pk
        split_address = authenticated.address
        try:
            account_session = await self.sessions.get(account_id)
            unlocked = await account_session.unlocked()
        except NotLinked as exc:
            raise SendFailed(
                "The bridge is not logged in to this account; log in again "
                "on the bridge dashboard.",
                kind="session",
                transient=True,
            ) from exc
        except CryptoError as exc:
            await self.sessions.drop(account_id)
            raise SendFailed(
                "The account's keys could not be unlocked; log in again on "
                "the bridge dashboard.",
                kind="session",
                transient=True,
            ) from exc
        except ProviderError as exc:
            raise SendFailed(
                "The provider could not be reached to unlock the account's "
                "keys; try again later.",
                kind="provider",
                transient=exc.transient,
            ) from exc

        return await send_message(
            account_session.client,
            unlocked,
            account_key=account_id,
            mail_from=envelope.mail_from or "",
            recipients=list(envelope.rcpt_tos),
            raw=raw,
            allowed_senders=[split_address.email] if split_address else None,
            split_address_id=split_address.provider_id if split_address else "",
        )

    async def handle_exception(self, error: Exception) -> str:
        # Unexpected failures: the traceback goes to the log (it holds no
        # message content), the mail program keeps the message.
        logger.error("SMTP command failed", exc_info=error)
        return (
            "451 4.3.0 The bridge hit an internal error; the message was not "
            "sent. Try again later."
        )


def send_failure_reply(exc: SendFailed) -> str:
    """The SMTP reply for a message that was not sent."""
    if exc.kind == "sender":
        return f"550 5.7.1 {exc}"
    if exc.transient:
        detail = {"session": "4.7.0", "duplicate": "4.3.0"}.get(exc.kind, "4.4.2")
        return f"451 {detail} {exc}"
    detail = {"recipient": "5.1.1", "message": "5.6.0", "session": "5.7.0"}.get(
        exc.kind, "5.0.0"
    )
    return f"554 {detail} {exc}"


def is_mailbox_address(address: str) -> bool:
    """True for ``local@domain``: something a message can be delivered to."""
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain)


def allowed_senders(authenticated: Authenticated) -> list[Address]:
    """The enabled, send-capable addresses this login may send from."""
    candidates = (
        [authenticated.address]
        if authenticated.address is not None
        else list(authenticated.account.addresses.all())
    )
    fresh = Address.objects.filter(id__in=[a.id for a in candidates])
    return [a for a in fresh if a.status == Address.Status.ENABLED and a.send]


def _authenticated(session: Session) -> Authenticated:
    authenticated = session.auth_data
    if not isinstance(authenticated, Authenticated):
        # aiosmtpd refuses MAIL, RCPT and DATA before AUTH; this cannot be.
        raise RuntimeError("command reached the handler without a login")
    return authenticated


async def _record(authenticated: Authenticated, kind: Any, text: str) -> None:
    try:
        await sync_to_async(record_activity)(authenticated.account, kind, text)
    except Exception:
        # The dashboard line is a nicety; the SMTP reply must still go out.
        logger.exception("could not record activity")


def _auth_reply(status: str) -> AuthResult:
    return AuthResult(success=False, handled=False, message=status)


async def _challenge(server: SMTP, prompt: str) -> bytes | None:
    """The client's answer to a 334 prompt; None if it aborted or erred."""
    answer = await server.challenge_auth(prompt)
    return answer if isinstance(answer, bytes) else None


def _b64(value: str) -> bytes | None:
    try:
        return b64decode(value.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None


async def _cancel_and_wait(task: asyncio.Task) -> None:
    """Cancel a send and let it finish its cleanup (bounded by the shutdown)."""
    task.cancel()
    await asyncio.wait({task}, timeout=CANCELLED_SEND_CLEANUP_SECONDS)
