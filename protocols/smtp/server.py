"""The SMTP submission listener, on aiosmtpd inside the bridge's event loop.

Plain TCP with STARTTLS on the main port (1025 by default), and implicit TLS
on an optional second port. A peer on loopback may log in without TLS, as
the official bridge allows; any other peer must start TLS first. Every
message needs a login (AUTH PLAIN or LOGIN) before MAIL.

``stop()`` stops accepting connections, refuses new transactions, waits a
bounded time for messages being sent and then closes the connections left.
A message is therefore never acknowledged without having been sent.
"""

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, TLSSetupException, syntax
from django.conf import settings

from protocols.auth import is_loopback
from protocols.smtp.handler import SessionPool, SubmissionHandler, Transactions
from protocols.tls import server_context

logger = logging.getLogger(__name__)

# Both within the runner's grace time, so that the connections are closed
# by us and not abandoned.
STOP_WAIT_SECONDS = 5.0
CLEANUP_WAIT_SECONDS = 1.5

# Real senders write HTML with lines far beyond RFC 5321's 1000 octets; the
# official bridge accepts 64 KiB. The limit caps the read buffer, it does not
# allocate it.
MAX_LINE_LENGTH = 65536


class BridgeSMTP(SMTP):
    """One connection: aiosmtpd's protocol with the bridge's TLS rules."""

    line_length_limit = MAX_LINE_LENGTH

    def __init__(
        self,
        handler: SubmissionHandler,
        *,
        service: "SMTPService",
        implicit_tls: bool,
        **options: Any,
    ) -> None:
        super().__init__(handler, **options)
        self.service = service
        self.implicit_tls = implicit_tls
        self._lost = False
        self._size_reply = (
            f"552 5.3.4 The message is larger than the "
            f"{_human_size(self.data_size_limit)} this bridge accepts."
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if not first:
            return  # the same connection after STARTTLS

        self.service.connections.add(self)
        peer = transport.get_extra_info("peername")
        if self.implicit_tls:
            # The whole connection is TLS; aiosmtpd only knows STARTTLS.
            self._auth_require_tls = False
        elif is_loopback(peer):
            # Same machine: nothing travels over a network.
            self._auth_require_tls = False
        else:
            self.require_starttls = bool(self.tls_context)
        logger.debug("SMTP connection from %s", peer)

    def connection_lost(self, error: Exception | None) -> None:
        if self._lost:
            return  # already ended by _abandon()
        self._lost = True
        self.service.connections.discard(self)
        super().connection_lost(error)

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        # aiosmtpd would wrap TLS inside TLS, which asyncio cannot undo when
        # that handshake fails: the connection dies with a traceback.
        if not arg and (self.implicit_tls or self._tls_protocol is not None):
            await self.push("503 5.5.1 TLS is already active on this connection.")
            return

        try:
            await super().smtp_STARTTLS(arg)
        except TLSSetupException:
            # The client's side of the handshake failed (wrong protocol, no
            # common cipher, an aborted connection): nothing to reply to.
            logger.info("SMTP TLS handshake from %s failed", self._peer_name())
            self._abandon()

    def _abandon(self) -> None:
        # A TLS layer whose handshake failed never reports the connection's
        # end to us, which would leave this conversation waiting forever.
        if self._original_transport is not None:
            self._original_transport.close()
        self.connection_lost(None)

    def _peer_name(self) -> str:
        peer = self.session.peer if self.session is not None else None
        if isinstance(peer, tuple | list) and len(peer) >= 2:
            return f"{peer[0]}:{peer[1]}"
        return str(peer)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        # Counted until the reply is pushed, so stop() cannot cut a sent
        # message's acknowledgement.
        with self.service.transactions.running():
            await super().smtp_DATA(arg)

    async def push(self, status: Any) -> None:
        await super().push(self._with_enhanced_code(status))

    def _with_enhanced_code(self, status: Any) -> Any:
        # aiosmtpd's own refusals carry no enhanced status code.
        if not isinstance(status, str):
            return status
        if status.startswith("552 Error:"):
            return self._size_reply
        if status == "530 Must issue a STARTTLS command first":
            return "530 5.7.0 Start TLS first (STARTTLS): this connection is not local."
        return status


class SMTPService:
    """The running listener(s); what ``BridgeRunner`` starts and stops."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        handler: SubmissionHandler,
        sessions: SessionPool,
        transactions: Transactions,
    ) -> None:
        self.host = host
        self.handler = handler
        self.sessions = sessions
        self.transactions = transactions
        self.connections: set[BridgeSMTP] = set()
        self.servers: list[tuple[asyncio.Server, bool]] = []

    @property
    def port(self) -> int:
        """The STARTTLS port actually bound (useful when asked for port 0)."""
        return self._bound_port(implicit=False)

    @property
    def implicit_tls_port(self) -> int:
        return self._bound_port(implicit=True)

    def _bound_port(self, implicit: bool) -> int:
        for server, is_implicit in self.servers:
            if is_implicit == implicit and server.sockets:
                return server.sockets[0].getsockname()[1]
        return 0

    def describe(self) -> str:
        text = f"{self.host}:{self.port} (STARTTLS)"
        if self.implicit_tls_port:
            text += f", implicit TLS on {self.host}:{self.implicit_tls_port}"
        return text

    async def stop(self) -> None:
        self.transactions.stopping = True
        for server, _ in self.servers:
            server.close()

        if self.transactions.active:
            logger.info(
                "waiting for %d message(s) being sent", self.transactions.active
            )
        try:
            await asyncio.wait_for(self.transactions.wait_idle(), STOP_WAIT_SECONDS)
        except TimeoutError:
            logger.warning(
                "%d message(s) still sending at shutdown; their drafts are removed",
                self.transactions.active,
            )

        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
        # Sends cut off just now clean up their drafts (shielded); let them
        # use the provider sessions before those close.
        try:
            await asyncio.wait_for(self.transactions.wait_idle(), CLEANUP_WAIT_SECONDS)
        except TimeoutError:
            logger.warning("sends still cleaning up at shutdown")

        await self.sessions.aclose()
        logger.info("SMTP listener stopped")


async def start_smtp(
    host: str,
    port: int,
    implicit_tls_port: int = 0,
    *,
    max_size: int | None = None,
    send_deadline: float | None = None,
    client_options: dict[str, Any] | None = None,
) -> SMTPService:
    """Listen for submissions on ``port`` (and ``implicit_tls_port`` if set).

    ``max_size`` defaults to BRIDGE_SMTP_MAX_SIZE. ``send_deadline`` and
    ``client_options`` (passed to the provider client) let tests make
    failures come fast.
    """
    tls_context = await asyncio.to_thread(server_context)
    sessions = SessionPool(client_options)
    transactions = Transactions()
    handler_options = {} if send_deadline is None else {"send_deadline": send_deadline}
    handler = SubmissionHandler(sessions, transactions, **handler_options)
    service = SMTPService(host, handler, sessions, transactions)
    loop = asyncio.get_running_loop()

    _quiet_library_log()

    def factory(implicit_tls: bool) -> BridgeSMTP:
        return BridgeSMTP(
            handler,
            service=service,
            implicit_tls=implicit_tls,
            hostname=host,
            ident="mail bridge",
            tls_context=None if implicit_tls else tls_context,
            require_starttls=False,
            auth_required=True,
            auth_require_tls=True,
            data_size_limit=max_size or settings.BRIDGE_SMTP_MAX_SIZE,
            enable_SMTPUTF8=True,
            decode_data=False,
            loop=loop,
        )

    try:
        server = await loop.create_server(lambda: factory(False), host, port)
        service.servers.append((server, False))
        if implicit_tls_port:
            implicit = await loop.create_server(
                lambda: factory(True), host, implicit_tls_port, ssl=tls_context
            )
            service.servers.append((implicit, True))
    except BaseException:
        await service.stop()
        raise

    logger.info("SMTP listening on %s", service.describe())
    return service


def _quiet_library_log() -> None:
    # aiosmtpd logs every DATA line at DEBUG (message content must never be
    # logged) and a deprecation warning at each login. Our own log lines
    # cover connections, logins and outcomes.
    library_log = logging.getLogger("mail.log")
    if library_log.level == logging.NOTSET:
        library_log.setLevel(logging.ERROR)


def _human_size(size: int | None) -> str:
    size = size or 0
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB"
    return f"{size // 1024} KB"
