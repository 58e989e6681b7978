"""The IMAP listener: asyncio sockets, STARTTLS, implicit TLS, limits.

Plain TCP with STARTTLS on the main port (1143 by default) and implicit TLS
on an optional second port. Each connection gets an
:class:`~protocols.imap.session.ImapSession`; this module only moves bytes,
counts connections and logs one INFO line when a connection opens and one
when it closes (the session logs one per command).

``stop()`` stops accepting, asks every session to say BYE after its current
command and waits a bounded time before closing what is left.
"""

import asyncio
import itertools
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

from protocols.imap.reader import ReaderLimits
from protocols.imap.session import ImapSession, SessionOptions
from protocols.tls import server_context

logger = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
MAX_CONNECTIONS = 500
STOP_WAIT_SECONDS = 5.0
TLS_HANDSHAKE_SECONDS = 30.0

_connection_numbers = itertools.count(1)


class StreamTransport:
    """A session's byte stream over asyncio streams."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls_context: ssl.SSLContext | None,
        *,
        secure: bool,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._tls_context = tls_context
        self.peer = writer.get_extra_info("peername")
        self.secure = secure

    async def read(self) -> bytes:
        return await self._reader.read(READ_CHUNK)

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    async def drain(self) -> None:
        await self._writer.drain()

    async def start_tls(self) -> None:
        assert self._tls_context is not None
        await asyncio.wait_for(
            self._writer.start_tls(self._tls_context), TLS_HANDSHAKE_SECONDS
        )
        self.secure = True

    async def close(self) -> None:
        if self._writer.is_closing():
            return
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 2)
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
            # A peer that reads nothing would keep the unsent bytes, and the
            # socket, for ever: drop them.
            self._writer.transport.abort()


@dataclass
class IMAPService:
    """The running listeners; what ``protocols.runner`` starts and stops."""

    name: str = "imap"
    servers: list[asyncio.Server] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    sessions: set[ImapSession] = field(default_factory=set)
    tasks: set[asyncio.Task] = field(default_factory=set)
    tls_context: ssl.SSLContext | None = None
    limits: ReaderLimits = field(default_factory=ReaderLimits)
    max_connections: int = MAX_CONNECTIONS
    session_options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(self.addresses)

    @property
    def port(self) -> int:
        """The first listener's port (useful when bound to port 0)."""
        return self.servers[0].sockets[0].getsockname()[1]

    async def serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        implicit_tls: bool,
    ) -> None:
        number = next(_connection_numbers)
        connection_id = f"imap-{number}"
        peer = writer.get_extra_info("peername")
        transport = StreamTransport(
            reader, writer, self.tls_context, secure=implicit_tls
        )

        if len(self.sessions) >= self.max_connections:
            logger.warning("[%s] refused %s: too many connections", connection_id, peer)
            transport.write(b"* BYE Too many connections, try again later\r\n")
            await transport.close()
            return

        logger.info(
            "[%s] connection from %s%s",
            connection_id,
            _peer_text(peer),
            " (TLS)" if implicit_tls else "",
        )
        options = SessionOptions(
            connection_id=connection_id,
            tls_available=self.tls_context is not None,
            limits=self.limits,
            **self.session_options,
        )
        session = ImapSession(transport, options)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            await session.run()
        except Exception:
            logger.exception("[%s] session ended by an error", connection_id)
        finally:
            self.sessions.discard(session)
            if task is not None:
                self.tasks.discard(task)
            logger.info("[%s] connection closed", connection_id)

    async def stop(self) -> None:
        """Stop accepting; BYE to every session after its current command."""
        for server in self.servers:
            server.close()
        for session in list(self.sessions):
            session.request_stop()

        pending = [task for task in self.tasks if not task.done()]
        if pending:
            _, still_running = await asyncio.wait(pending, timeout=STOP_WAIT_SECONDS)
            for task in still_running:
                task.cancel()
        for server in self.servers:
            await server.wait_closed()
        logger.info("IMAP listeners stopped")


async def start_imap(
    host: str,
    port: int,
    implicit_tls_port: int = 0,
    *,
    tls_context: ssl.SSLContext | None = None,
    limits: ReaderLimits | None = None,
    session_options: dict[str, Any] | None = None,
) -> IMAPService:
    """Listen on `port` (STARTTLS) and, if set, `implicit_tls_port`."""
    context = tls_context or server_context()
    service = IMAPService(
        tls_context=context,
        limits=limits or ReaderLimits(),
        session_options=session_options or {},
    )

    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await service.serve(reader, writer, implicit_tls=False)

    async def implicit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await service.serve(reader, writer, implicit_tls=True)

    try:
        server = await asyncio.start_server(plain, host, port, limit=READ_CHUNK)
        service.servers.append(server)
        service.addresses.append(f"{_bound(server)} (STARTTLS)")

        if implicit_tls_port:
            server = await asyncio.start_server(
                implicit,
                host,
                implicit_tls_port,
                ssl=context,
                ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS,
                limit=READ_CHUNK,
            )
            service.servers.append(server)
            service.addresses.append(f"{_bound(server)} (TLS)")
    except BaseException:
        for server in service.servers:
            server.close()
        raise

    logger.info("IMAP listening on %s", service.describe())
    return service


def _bound(server: asyncio.Server) -> str:
    host, port = server.sockets[0].getsockname()[:2]
    return f"{host}:{port}"


def _peer_text(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
