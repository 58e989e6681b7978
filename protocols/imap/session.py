"""One IMAP connection's state machine: a method per command.

The session reads typed commands from :class:`CommandReader`, answers them
from a :class:`~protocols.imap.store.MailboxStore`, and asks
:class:`~mailsync.actions.MailActions` for every change. It never touches the
ORM or the provider itself.

Untagged updates follow RFC 3501 §7.4.1: the selected mailbox is re-read
when the channel layer says it changed (or on NOOP, CHECK, IDLE and after
this session's own changes) and the difference goes out as EXPUNGE, EXISTS
and FETCH FLAGS. While a FETCH, STORE or SEARCH runs no EXPUNGE is sent:
messages that vanished stay in the session's numbering until a command that
allows EXPUNGE, and new messages are only used after their EXISTS.
"""

import asyncio
import dataclasses
import enum
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from accounts.models import Address
from mailsync.actions import ActionRefused, CopyResult, MailActions
from mailsync.notify import account_group
from protocols import auth
from protocols.imap import commands as c
from protocols.imap import fetch, search, wire
from protocols.imap.fetchatts import BodySection, FetchAttribute
from protocols.imap.lexer import ParseError
from protocols.imap.reader import (
    AuthenticateResponse,
    CommandReader,
    IdleDone,
    NeedContinuation,
    ReaderLimits,
)
from protocols.imap.sequence import SequenceSet
from protocols.imap.store import (
    FETCH_BATCH,
    DatabaseMailboxStore,
    FetchRow,
    MailboxGone,
    MailboxInfo,
    MailboxStore,
    MessageState,
    Snapshot,
)

logger = logging.getLogger(__name__)

AUTOLOGOUT_SECONDS = 30 * 60
# Connections are limited in number; one that has not logged in by then gives
# its place back (RFC 3501 asks for 30 minutes only after authentication).
LOGIN_TIMEOUT_SECONDS = 60.0
# A peer that reads nothing of a pending reply for this long is gone or
# hostile; its session ends so the reply does not stay in memory.
WRITE_STALL_SECONDS = 5 * 60.0
LISTEN_RETRY_SECONDS = 2.0
# Message bytes held at once while answering a FETCH of whole messages.
BODY_BYTES_PER_READ = 8 * 1024 * 1024
# One message's FETCH reply is built in memory before it is written. Sections
# that overlap (the same body asked for under many partial ranges) would
# otherwise multiply a message's size as often as one command line allows.
MAX_FETCH_REPLY_BYTES = 128 * 1024 * 1024
DELIMITER = "/"

BASE_CAPABILITIES = ("IMAP4rev1", "IDLE", "ID", "LITERAL+")
AUTHENTICATED_CAPABILITIES = (
    "IMAP4rev1",
    "IDLE",
    "UIDPLUS",
    "MOVE",
    "UNSELECT",
    "ID",
    "NAMESPACE",
    "ENABLE",
    "LITERAL+",
    "SPECIAL-USE",
    "CHILDREN",
)
SERVER_ID = {"name": "Mail bridge", "vendor": "mail-bridge", "version": "0.1"}

# Flags a client may set (\Draft follows the provider and cannot change).
PERMANENT_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\*")
DEFAULT_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


class Transport(Protocol):
    """The byte stream under a session (the server wraps asyncio streams)."""

    peer: Any
    secure: bool

    async def read(self) -> bytes:
        """Some bytes from the client; b"" when it closed."""
        ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    async def start_tls(self) -> None: ...

    async def close(self) -> None: ...


class Reply(Exception):
    """Ends a command with a tagged status other than OK."""

    def __init__(self, status: str, text: str, *, code: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.code = code


def no(text: str, code: str | None = None) -> Reply:
    return Reply("NO", text, code=code)


def bad(text: str, code: str | None = None) -> Reply:
    return Reply("BAD", text, code=code)


@dataclass
class SessionOptions:
    """What the server decides for every session."""

    connection_id: str
    tls_available: bool = False
    limits: ReaderLimits | None = None
    autologout_seconds: float = AUTOLOGOUT_SECONDS
    login_timeout_seconds: float = LOGIN_TIMEOUT_SECONDS
    write_stall_seconds: float = WRITE_STALL_SECONDS
    # The personal namespace NAMESPACE announces. "" tells clients that every
    # mailbox is theirs; "Folders/" steers clients that create folders under
    # their namespace to where this server can create them.
    personal_namespace: str = ""
    authenticate: Callable[..., Awaitable[auth.Authenticated]] = auth.authenticate
    store_factory: Callable[[int, str | None], MailboxStore] = DatabaseMailboxStore
    actions_factory: Callable[[Any, str | None], MailActions] = MailActions
    # The most message bytes one FETCH reply may carry for one message.
    max_fetch_reply: int = MAX_FETCH_REPLY_BYTES


# -- the selected mailbox as this session knows it ---------------------------------


class SelectedView:
    """Message numbers, UIDs and flags as last told to the client.

    `gone` holds UIDs that left the mailbox but keep their number until an
    EXPUNGE may be sent.
    """

    def __init__(self, mailbox: MailboxInfo, read_only: bool) -> None:
        self.mailbox = mailbox
        self.read_only = read_only
        self.uids: list[int] = []
        self.flags: dict[int, frozenset[str]] = {}
        self.recent: set[int] = set()
        self.gone: set[int] = set()
        self.dirty = False

    @property
    def exists(self) -> int:
        return len(self.uids)

    @property
    def max_uid(self) -> int:
        return self.uids[-1] if self.uids else 0

    def load(self, snapshot: Snapshot) -> None:
        self.mailbox = snapshot.mailbox
        self.uids = [state.uid for state in snapshot.messages]
        self.flags = {state.uid: state.flags for state in snapshot.messages}
        self.recent = set(snapshot.recent)
        self.gone = set()

    def sequence_of(self) -> dict[int, int]:
        return {uid: position for position, uid in enumerate(self.uids, 1)}

    def live_uids(self) -> list[int]:
        if not self.gone:
            return list(self.uids)
        return [uid for uid in self.uids if uid not in self.gone]


# -- the session -------------------------------------------------------------------


class ImapSession:
    """The state machine of one connection; run it with :meth:`run`."""

    def __init__(self, transport: Transport, options: SessionOptions) -> None:
        self.transport = transport
        self.options = options
        self.id = options.connection_id
        self.state = State.NOT_AUTHENTICATED
        self.reader = CommandReader(self._limits_before_login())

        self.login: auth.Authenticated | None = None
        self.store: MailboxStore | None = None
        self.actions: MailActions | None = None
        self.view: SelectedView | None = None
        self.client_id: dict[str, str | None] = {}

        self._read_task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._listener: asyncio.Task | None = None
        self._channel: str | None = None
        self._busy = False

        self._handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            c.CapabilityCommand: self.cmd_capability,
            c.NoopCommand: self.cmd_noop,
            c.LogoutCommand: self.cmd_logout,
            c.IdCommand: self.cmd_id,
            c.EnableCommand: self.cmd_enable,
            c.StartTlsCommand: self.cmd_starttls,
            c.AuthenticateCommand: self.cmd_authenticate,
            c.LoginCommand: self.cmd_login,
            c.SelectCommand: self.cmd_select,
            c.ExamineCommand: self.cmd_select,
            c.CreateCommand: self.cmd_create,
            c.DeleteCommand: self.cmd_delete,
            c.RenameCommand: self.cmd_rename,
            c.SubscribeCommand: self.cmd_subscribe,
            c.UnsubscribeCommand: self.cmd_unsubscribe,
            c.ListCommand: self.cmd_list,
            c.LsubCommand: self.cmd_lsub,
            c.StatusCommand: self.cmd_status,
            c.AppendCommand: self.cmd_append,
            c.NamespaceCommand: self.cmd_namespace,
            c.IdleCommand: self.cmd_idle,
            c.CheckCommand: self.cmd_check,
            c.CloseCommand: self.cmd_close,
            c.UnselectCommand: self.cmd_unselect,
            c.ExpungeCommand: self.cmd_expunge,
            c.SearchCommand: self.cmd_search,
            c.FetchCommand: self.cmd_fetch,
            c.StoreCommand: self.cmd_store,
            c.CopyCommand: self.cmd_copy,
            c.MoveCommand: self.cmd_move,
        }

    # -- the loop ------------------------------------------------------------------

    async def run(self) -> None:
        """Greet, then answer commands until LOGOUT, EOF, timeout or stop."""
        try:
            self.send_line(
                wire.response_line(
                    None, "OK", "Mail bridge ready", code=self._capability_code()
                )
            )
            await self._flush()

            while self.state is not State.LOGOUT:
                event = await self._next_event(self._inactivity_limit())
                if event is None:
                    break
                await self._handle(event)
                await self._flush()
        except (OSError, asyncio.IncompleteReadError) as error:
            logger.info("[%s] connection lost: %s", self.id, type(error).__name__)
        finally:
            await self._shutdown()

    def _inactivity_limit(self) -> float:
        """Seconds of client silence before the session ends."""
        if self.state is State.NOT_AUTHENTICATED:
            return self.options.login_timeout_seconds
        return self.options.autologout_seconds

    def request_stop(self) -> None:
        """Say BYE after the current command (server shutdown)."""
        self._stop.set()

    async def _shutdown(self) -> None:
        if self._read_task is not None:
            self._read_task.cancel()
        await self._stop_listening()
        try:
            await self.transport.close()
        except (ConnectionError, OSError):
            logger.debug("[%s] close failed; the peer was gone", self.id)

    async def _next_event(self, timeout: float) -> Any:
        """The next reader event; None after EOF, autologout or stop."""
        while True:
            event = self.reader.next_event()
            if event is not None:
                return event

            outcome = await self._receive(timeout, wake_on_change=False)
            if outcome == "data":
                continue
            if outcome == "timeout":
                self._bye("Autologout; idle for too long")
            elif outcome == "stop":
                self._bye("Server shutting down")
            return None

    async def _receive(self, timeout: float, *, wake_on_change: bool) -> str:
        """Wait for client bytes; "data", "eof", "timeout", "stop" or "change"."""
        if self._stop.is_set():
            return "stop"
        if self._read_task is None:
            self._read_task = asyncio.ensure_future(self.transport.read())

        waiters: set[asyncio.Future] = {self._read_task}
        stop_waiter = asyncio.ensure_future(self._stop.wait())
        waiters.add(stop_waiter)
        change_waiter = None
        if wake_on_change:
            change_waiter = asyncio.ensure_future(self._wakeup.wait())
            waiters.add(change_waiter)

        try:
            done, _ = await asyncio.wait(
                waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stop_waiter.cancel()
            if change_waiter is not None:
                change_waiter.cancel()

        if self._read_task in done:
            task, self._read_task = self._read_task, None
            data = task.result()
            if not data:
                return "eof"
            self.reader.feed(data)
            return "data"
        if stop_waiter in done:
            return "stop"
        if change_waiter is not None and change_waiter in done:
            return "change"
        return "timeout"

    def _bye(self, text: str) -> None:
        self.send_line(wire.response_line(None, "BYE", text))
        self.state = State.LOGOUT

    # -- dispatch ------------------------------------------------------------------

    async def _handle(self, event: Any) -> None:
        if isinstance(event, NeedContinuation):
            self.send_line(event.response())
            return
        if isinstance(event, ParseError):
            # The reason may quote the client's arguments (a password typed
            # with a space, say), so only the debug log carries it.
            logger.info(
                "[%s] %s %s (unparsable command)",
                self.id,
                event.tag or "*",
                event.status,
            )
            logger.debug("[%s] refused because: %s", self.id, event.message)
            self.send_line(event.response())
            return
        if isinstance(event, IdleDone | AuthenticateResponse):
            # Only expected inside IDLE or AUTHENTICATE, which read them.
            self.send_line(wire.response_line(event.tag, "BAD", "Unexpected line"))
            return
        await self._run_command(event)

    async def _run_command(self, command: c.Command) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("[%s] C: %r", self.id, command)

        started = time.monotonic()
        status = "OK"
        self._busy = True
        try:
            self._check_state(command)
            handler = self._handlers[type(command)]
            await handler(command)
        except Reply as reply:
            status = reply.status
            self.send_line(
                wire.response_line(
                    command.tag, reply.status, reply.text, code=reply.code
                )
            )
        except MailboxGone:
            status = "NO"
            self._deselect()
            self._bye("The selected mailbox no longer exists")
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            status = "NO"
            logger.exception("[%s] %s failed", self.id, command.name)
            self.send_line(
                wire.response_line(
                    command.tag, "NO", "Internal server error", code="SERVERBUG"
                )
            )
        finally:
            self._busy = False

        elapsed = (time.monotonic() - started) * 1000
        logger.info(
            "[%s] %s %s%s %s %.0fms",
            self.id,
            command.tag,
            "UID " if getattr(command, "uid", False) else "",
            command.name,
            status,
            elapsed,
        )

    def _check_state(self, command: c.Command) -> None:
        name = command.name
        if name in ("CAPABILITY", "NOOP", "LOGOUT", "ID"):
            return
        if name in ("STARTTLS", "AUTHENTICATE", "LOGIN"):
            if self.state is not State.NOT_AUTHENTICATED:
                raise bad("Already logged in")
            return
        if self.state is State.NOT_AUTHENTICATED:
            raise bad("Log in first")
        if name in (
            "CHECK",
            "CLOSE",
            "UNSELECT",
            "EXPUNGE",
            "SEARCH",
            "FETCH",
            "STORE",
            "COPY",
            "MOVE",
        ):
            if self.state is not State.SELECTED:
                raise bad("No mailbox selected")

    # -- output --------------------------------------------------------------------

    async def _flush(self) -> None:
        """Wait until the peer has taken what was written, within the limit."""
        # asyncio.timeout adds no task: when nothing waits to be sent, this
        # returns without yielding, so no client bytes slip in between an OK
        # to STARTTLS and the handshake.
        try:
            async with asyncio.timeout(self.options.write_stall_seconds):
                await self.transport.drain()
        except TimeoutError:
            logger.info("[%s] the peer stopped reading; closing", self.id)
            raise ConnectionError("the peer stopped reading") from None

    def send_line(self, data: bytes) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("[%s] S: %s", self.id, _trace_text(data))
        self.transport.write(data)

    def ok(self, tag: str, text: str, code: str | None = None) -> None:
        self.send_line(wire.response_line(tag, "OK", text, code=code))

    def _capabilities(self) -> list[str]:
        if self.state is not State.NOT_AUTHENTICATED:
            return list(AUTHENTICATED_CAPABILITIES)

        capabilities = list(BASE_CAPABILITIES)
        if self.options.tls_available and not self.transport.secure:
            capabilities.append("STARTTLS")
        if self._login_allowed():
            capabilities.append("AUTH=PLAIN")
        else:
            capabilities.append("LOGINDISABLED")
        return capabilities

    def _capability_code(self) -> str:
        return "CAPABILITY " + " ".join(self._capabilities())

    def _limits_before_login(self) -> ReaderLimits:
        # No APPEND can succeed before login, and no other command needs more
        # than one small literal: a stranger must not make the server hold
        # megabytes for each connection they open.
        limits = self.options.limits or ReaderLimits()
        small = limits.max_literal_size
        return dataclasses.replace(
            limits,
            max_append_size=min(limits.max_append_size, small),
            max_command_size=min(limits.max_command_size, small),
        )

    def _login_allowed(self) -> bool:
        # Passwords cross the wire in the clear only on this machine.
        return (
            self.transport.secure
            or not self.options.tls_available
            or auth.is_loopback(self.transport.peer)
        )

    # -- any state -----------------------------------------------------------------

    async def cmd_capability(self, command: c.CapabilityCommand) -> None:
        self.send_line(wire.untagged(b"CAPABILITY", " ".join(self._capabilities())))
        self.ok(command.tag, "CAPABILITY completed")

    async def cmd_noop(self, command: c.NoopCommand) -> None:
        if self.view is not None:
            self.view.dirty = True
            await self.refresh(allow_expunge=True)
        self.ok(command.tag, "NOOP completed")

    async def cmd_logout(self, command: c.LogoutCommand) -> None:
        self.send_line(wire.response_line(None, "BYE", "Logging out"))
        self.ok(command.tag, "LOGOUT completed")
        self.state = State.LOGOUT

    async def cmd_id(self, command: c.IdCommand) -> None:
        self.client_id = dict(command.parameters or {})
        name = _printable(self.client_id.get("name"))
        if self.client_id.get("name") and self.actions is not None:
            version = _printable(self.client_id.get("version"))
            self.actions.user_agent = f"{name}/{version}"
        if self.client_id:
            logger.info(
                "[%s] client says it is %s %s",
                self.id,
                _printable(self.client_id.get("name")),
                _printable(self.client_id.get("version")),
            )
        pairs = []
        for key, value in SERVER_ID.items():
            pairs += [wire.quote(key.encode()), wire.quote(value.encode())]
        self.send_line(wire.untagged(b"ID", wire.format_list(pairs)))
        self.ok(command.tag, "ID completed")

    async def cmd_enable(self, command: c.EnableCommand) -> None:
        # Nothing this server offers needs enabling; RFC 5161 answers with
        # an empty ENABLED list.
        self.send_line(wire.untagged(b"ENABLED"))
        self.ok(command.tag, "ENABLE completed")

    # -- not authenticated -----------------------------------------------------------

    async def cmd_starttls(self, command: c.StartTlsCommand) -> None:
        if not self.options.tls_available or self.transport.secure:
            raise bad("STARTTLS is not available here")

        self.ok(command.tag, "Begin TLS negotiation now")
        await self._flush()
        await self.transport.start_tls()
        # Whatever the client sent before the handshake must not count
        # (RFC 3501 §6.2.1): start over with an empty reader.
        self.reader = CommandReader(self._limits_before_login())

    async def cmd_login(self, command: c.LoginCommand) -> None:
        if not self._login_allowed():
            raise no("Use STARTTLS before logging in", code="PRIVACYREQUIRED")
        await self._log_in(command.tag, command.username, command.password)

    async def cmd_authenticate(self, command: c.AuthenticateCommand) -> None:
        if command.mechanism != "PLAIN":
            raise no("Only AUTHENTICATE PLAIN is supported", code="CANNOT")
        if not self._login_allowed():
            raise no("Use STARTTLS before logging in", code="PRIVACYREQUIRED")

        data = command.initial_response
        if data is None:
            self.send_line(wire.continuation(""))
            await self._flush()
            self.reader.expect_authenticate_response(command.tag)
            event = await self._next_event(self._inactivity_limit())
            if event is None:
                return
            if isinstance(event, ParseError):
                raise bad(event.message)
            if not isinstance(event, AuthenticateResponse) or event.cancelled:
                raise bad("AUTHENTICATE cancelled")
            data = event.data

        pieces = data.split(b"\x00")
        if len(pieces) != 3:
            raise bad("Malformed PLAIN credentials")
        authzid, username, password = (
            piece.decode("utf-8", "replace") for piece in pieces
        )
        if authzid and authzid.casefold() != username.casefold():
            raise no("Logging in as someone else is not supported", code="AUTHZFAILED")
        await self._log_in(command.tag, username, password)

    async def _log_in(self, tag: str, username: str, password: str) -> None:
        try:
            login = await self.options.authenticate(
                username, password, self.transport.peer, protocol="IMAP"
            )
        except auth.LoginThrottled as error:
            raise no(str(error), code="UNAVAILABLE") from None
        except auth.AuthFailed as error:
            raise no(str(error), code="AUTHENTICATIONFAILED") from None

        self.login = login
        address_id = _address_id(login.address)
        self.store = self.options.store_factory(login.account.pk, address_id)
        self.actions = self.options.actions_factory(login.account, address_id)
        if self.client_id.get("name"):
            self.actions.user_agent = (
                f"{_printable(self.client_id.get('name'))}/"
                f"{_printable(self.client_id.get('version'))}"
            )
        self.state = State.AUTHENTICATED
        self.reader.limits = self.options.limits or ReaderLimits()
        await self._start_listening()
        self.ok(tag, "Logged in", code=self._capability_code())

    # -- change notifications --------------------------------------------------------

    async def _start_listening(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None or self.login is None:
            return
        self._channel = await layer.new_channel()
        await layer.group_add(account_group(self.login.account.pk), self._channel)
        self._listener = asyncio.ensure_future(self._listen(layer, self._channel))

    async def _listen(self, layer: Any, channel: str) -> None:
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A channel layer that lost its server (Redis restarting):
                # try again shortly, and re-read the mailbox meanwhile, since
                # a change may have gone by unseen.
                logger.warning(
                    "[%s] change notifications interrupted; retrying", self.id
                )
                if self.view is not None:
                    self.view.dirty = True
                    self._wakeup.set()
                await asyncio.sleep(LISTEN_RETRY_SECONDS)
                continue
            if message.get("type") != "mailbox.changed":
                continue
            view = self.view
            if view is not None and view.mailbox.id in message.get("mailboxes", ()):
                view.dirty = True
                self._wakeup.set()

    async def _renew_listening(self) -> None:
        # Channel layers forget group members after a day; IDLE clients come
        # back every 29 minutes, which is a good moment to say we are here.
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is not None and self._channel and self.login is not None:
            await layer.group_add(account_group(self.login.account.pk), self._channel)

    async def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
        if self._channel and self.login is not None:
            from channels.layers import get_channel_layer

            layer = get_channel_layer()
            try:
                await layer.group_discard(
                    account_group(self.login.account.pk), self._channel
                )
            except Exception:
                logger.debug("[%s] could not leave the account group", self.id)
            self._channel = None

    # -- the selected mailbox --------------------------------------------------------

    def _require_store(self) -> MailboxStore:
        assert self.store is not None
        return self.store

    def _require_actions(self) -> MailActions:
        assert self.actions is not None
        return self.actions

    def _require_view(self) -> SelectedView:
        assert self.view is not None
        return self.view

    def _deselect(self) -> None:
        self.view = None
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    async def refresh(
        self, *, allow_expunge: bool, quiet: frozenset[int] = frozenset()
    ) -> None:
        """Re-read the selected mailbox if it changed, and tell the client.

        EXPUNGE goes out only when `allow_expunge`; until then vanished
        messages keep their numbers. Flag changes of UIDs in `quiet` are
        taken in without a FETCH (a STORE .SILENT of this session).
        """
        view = self.view
        if view is None:
            return
        if view.dirty:
            view.dirty = False
            self._wakeup.clear()
            snapshot = await self._require_store().snapshot(
                view.mailbox, claim_recent=not view.read_only
            )
            if snapshot.mailbox.uidvalidity != view.mailbox.uidvalidity:
                self._deselect()
                self._bye("The mailbox was rebuilt; please resynchronise")
                raise Reply("NO", "Mailbox rebuilt")
            self._apply_snapshot(view, snapshot, quiet)

        if allow_expunge and view.gone:
            self._send_expunges(view)

    def _apply_snapshot(
        self, view: SelectedView, snapshot: Snapshot, quiet: frozenset[int]
    ) -> None:
        present = {state.uid: state for state in snapshot.messages}
        view.mailbox = snapshot.mailbox

        for uid in view.uids:
            if uid not in present:
                view.gone.add(uid)

        newest = view.max_uid
        added = [state for state in snapshot.messages if state.uid > newest]
        changed: list[MessageState] = []
        for uid in view.uids:
            state = present.get(uid)
            if state is not None and state.flags != view.flags.get(uid):
                changed.append(state)

        if added:
            for state in added:
                view.uids.append(state.uid)
                view.flags[state.uid] = state.flags
            self.send_line(wire.untagged(b"%d" % view.exists, b"EXISTS"))
            fresh_recent = snapshot.recent - view.recent
            if fresh_recent:
                view.recent |= fresh_recent
                self.send_line(wire.untagged(b"%d" % len(view.recent), b"RECENT"))

        if changed:
            sequence_of = view.sequence_of()
            for state in changed:
                view.flags[state.uid] = state.flags
                if state.uid not in quiet:
                    self._send_flags(sequence_of[state.uid], state.uid, state.flags)

    def _send_flags(self, sequence: int, uid: int, flags: frozenset[str]) -> None:
        recent = self.view is not None and uid in self.view.recent
        self.send_line(
            b"* %d FETCH (UID %d FLAGS " % (sequence, uid)
            + fetch.format_flag_list(flags, recent=recent)
            + b")\r\n"
        )

    def _send_expunges(self, view: SelectedView) -> None:
        # Highest number first, so each number is still right when it lands.
        positions = [
            position for position, uid in enumerate(view.uids, 1) if uid in view.gone
        ]
        for position in reversed(positions):
            self.send_line(wire.untagged(b"%d" % position, b"EXPUNGE"))
        view.uids = [uid for uid in view.uids if uid not in view.gone]
        for uid in view.gone:
            view.flags.pop(uid, None)
            view.recent.discard(uid)
        view.gone = set()

    def _resolve(
        self, sequence_set: SequenceSet, uid: bool, *, include_gone: bool = False
    ) -> list[tuple[int, int]]:
        """(sequence number, UID) pairs of the set, ascending."""
        view = self._require_view()
        if uid:
            uids = sequence_set.resolve(view.uids) if view.uids else []
            wanted = set(uids)
            pairs = [
                (position, value)
                for position, value in enumerate(view.uids, 1)
                if value in wanted
            ]
        else:
            # A number past the last message is an error, unless a range
            # reaches it from "*" (RFC 3501 §9: 5:* means *:5).
            for low, high in sequence_set.ranges:
                if (
                    low is not None
                    and high is not None
                    and max(low, high) > view.exists
                ):
                    raise bad("Invalid message sequence number")
            positions = (
                sequence_set.resolve(range(1, view.exists + 1)) if view.uids else []
            )
            pairs = [(position, view.uids[position - 1]) for position in positions]

        if include_gone or not view.gone:
            return pairs
        return [
            (position, value) for position, value in pairs if value not in view.gone
        ]

    # -- authenticated: mailboxes -----------------------------------------------------

    async def cmd_select(self, command: c.SelectCommand) -> None:
        if command.condstore:
            raise bad("CONDSTORE is not supported")
        self._deselect()

        store = self._require_store()
        mailbox = await store.get_mailbox(command.mailbox)
        if mailbox is None:
            raise no("No such mailbox", code="NONEXISTENT")
        if not mailbox.selectable:
            raise no(f"{mailbox.name} holds no messages", code="CANNOT")

        read_only = command.read_only
        snapshot = await store.snapshot(mailbox, claim_recent=not read_only)
        view = SelectedView(snapshot.mailbox, read_only)
        view.load(snapshot)

        keywords = sorted(
            {flag for flags in view.flags.values() for flag in flags}
            - set(DEFAULT_FLAGS)
        )
        self.send_line(
            wire.untagged(b"FLAGS", wire.format_flags([*DEFAULT_FLAGS, *keywords]))
        )
        permanent = "()" if read_only else "(" + " ".join(PERMANENT_FLAGS) + ")"
        self.send_line(
            wire.response_line(
                None, "OK", "Flags permitted", code=f"PERMANENTFLAGS {permanent}"
            )
        )
        self.send_line(wire.untagged(b"%d" % view.exists, b"EXISTS"))
        self.send_line(wire.untagged(b"%d" % len(view.recent), b"RECENT"))

        first_unseen = next(
            (
                position
                for position, uid in enumerate(view.uids, 1)
                if "\\Seen" not in view.flags[uid]
            ),
            None,
        )
        if first_unseen is not None:
            self.send_line(
                wire.response_line(
                    None, "OK", "First unseen", code=f"UNSEEN {first_unseen}"
                )
            )
        self.send_line(
            wire.response_line(
                None,
                "OK",
                "UIDs valid",
                code=f"UIDVALIDITY {view.mailbox.uidvalidity}",
            )
        )
        self.send_line(
            wire.response_line(
                None, "OK", "Predicted next UID", code=f"UIDNEXT {view.mailbox.uidnext}"
            )
        )

        self.view = view
        self.state = State.SELECTED
        self.ok(
            command.tag,
            f"{command.name} completed",
            code="READ-ONLY" if read_only else "READ-WRITE",
        )

    async def cmd_create(self, command: c.CreateCommand) -> None:
        if command.special_use:
            raise no("Special-use mailboxes cannot be created", code="USEATTR")
        if command.mailbox == "INBOX":
            raise no("INBOX already exists", code="ALREADYEXISTS")
        await self._act(self._require_actions().create_mailbox(command.mailbox))
        self.ok(command.tag, "CREATE completed")

    async def cmd_delete(self, command: c.DeleteCommand) -> None:
        mailbox = await self._require_store().get_mailbox(command.mailbox)
        if mailbox is not None and mailbox.selectable and mailbox.has_children:
            # The provider would delete the subfolders too, and DELETE must
            # never remove inferior names (RFC 3501 section 6.3.4).
            raise no(
                f"{_printable(command.mailbox)} has child mailboxes; delete them first",
                code="HASCHILDREN",
            )

        await self._act(self._require_actions().delete_mailbox(command.mailbox))
        view = self.view
        if view is not None and view.mailbox.name == command.mailbox:
            self._deselect()
        self.ok(command.tag, "DELETE completed")

    async def cmd_rename(self, command: c.RenameCommand) -> None:
        if command.mailbox == "INBOX":
            raise no("INBOX cannot be renamed", code="CANNOT")
        await self._act(
            self._require_actions().rename_mailbox(command.mailbox, command.new_name)
        )
        self.ok(command.tag, "RENAME completed")

    async def cmd_subscribe(self, command: c.SubscribeCommand) -> None:
        await self._set_subscribed(command.mailbox, True)
        self.ok(command.tag, "SUBSCRIBE completed")

    async def cmd_unsubscribe(self, command: c.UnsubscribeCommand) -> None:
        await self._set_subscribed(command.mailbox, False)
        self.ok(command.tag, "UNSUBSCRIBE completed")

    async def _set_subscribed(self, name: str, subscribed: bool) -> None:
        store = self._require_store()
        mailbox = await store.get_mailbox(name)
        if mailbox is None:
            raise no("No such mailbox", code="NONEXISTENT")
        await store.set_subscribed(mailbox, subscribed)

    async def cmd_list(self, command: c.ListCommand) -> None:
        if not command.patterns or command.patterns == ("",):
            if not command.extended or command.patterns == ("",):
                self.send_line(b'* LIST (\\Noselect) "/" ""\r\n')
                self.ok(command.tag, "LIST completed")
                return

        mailboxes = await self._require_store().list_mailboxes()
        matchers = [
            _pattern(command.reference, pattern) for pattern in command.patterns
        ]
        subscribed_only = "SUBSCRIBED" in command.selection
        special_only = "SPECIAL-USE" in command.selection
        show_subscribed = subscribed_only or "SUBSCRIBED" in command.return_options

        for mailbox in mailboxes:
            if not any(_matches(matcher, mailbox.name) for matcher in matchers):
                continue
            if subscribed_only and not mailbox.subscribed:
                continue
            if special_only and not mailbox.special_use:
                continue

            attributes = list(mailbox.attributes())
            if show_subscribed and mailbox.subscribed:
                attributes.append("\\Subscribed")
            self._send_list_line(b"LIST", attributes, mailbox.name)

            if command.status_items and mailbox.selectable:
                await self._send_status(mailbox, command.status_items)

        self.ok(command.tag, "LIST completed")

    async def cmd_lsub(self, command: c.LsubCommand) -> None:
        if command.pattern == "":
            self.send_line(b'* LSUB (\\Noselect) "/" ""\r\n')
            self.ok(command.tag, "LSUB completed")
            return

        matcher = _pattern(command.reference, command.pattern)
        for mailbox in await self._require_store().list_mailboxes():
            if mailbox.subscribed and _matches(matcher, mailbox.name):
                attributes = [] if mailbox.selectable else ["\\Noselect"]
                self._send_list_line(b"LSUB", attributes, mailbox.name)
        self.ok(command.tag, "LSUB completed")

    def _send_list_line(self, kind: bytes, attributes: list[str], name: str) -> None:
        flags = b"(" + " ".join(attributes).encode("ascii") + b")"
        self.send_line(
            wire.untagged(kind, flags, b'"/"', wire.encode_mailbox_name(name))
        )

    async def cmd_status(self, command: c.StatusCommand) -> None:
        if "HIGHESTMODSEQ" in command.items:
            raise bad("HIGHESTMODSEQ needs CONDSTORE, which is not enabled")
        mailbox = await self._require_store().get_mailbox(command.mailbox)
        if mailbox is None:
            raise no("No such mailbox", code="NONEXISTENT")
        if not mailbox.selectable:
            raise no(f"{mailbox.name} holds no messages", code="CANNOT")
        await self._send_status(mailbox, command.items)
        self.ok(command.tag, "STATUS completed")

    async def _send_status(self, mailbox: MailboxInfo, items: Sequence[str]) -> None:
        status = await self._require_store().status(mailbox)
        limits = self.options.limits or ReaderLimits()
        values = {
            "MESSAGES": status.messages,
            "RECENT": status.recent,
            "UIDNEXT": status.uidnext,
            "UIDVALIDITY": status.uidvalidity,
            "UNSEEN": status.unseen,
            "SIZE": status.size,
            "DELETED": status.deleted,
            "APPENDLIMIT": limits.max_append_size,
        }
        pairs = b" ".join(
            item.encode("ascii") + b" %d" % values[item]
            for item in items
            if item in values
        )
        self.send_line(
            wire.untagged(
                b"STATUS", wire.encode_mailbox_name(mailbox.name), b"(" + pairs + b")"
            )
        )

    async def cmd_namespace(self, command: c.NamespaceCommand) -> None:
        prefix = wire.quote(self.options.personal_namespace.encode("utf-8"))
        self.send_line(b"* NAMESPACE ((" + prefix + b' "/")) NIL NIL\r\n')
        self.ok(command.tag, "NAMESPACE completed")

    async def cmd_append(self, command: c.AppendCommand) -> None:
        if b"\x00" in command.message:
            # A literal may not carry NUL (RFC 3501 CHAR8); stored, the
            # message could never be sent back in a valid FETCH reply.
            raise bad("NUL byte in the message")

        result = await self._act(
            self._require_actions().append(
                command.mailbox,
                command.message,
                command.flags,
                command.internal_date,
            )
        )
        view = self.view
        if view is not None and view.mailbox.name == command.mailbox:
            view.dirty = True
            await self.refresh(allow_expunge=True)
        self.ok(
            command.tag,
            "APPEND completed",
            code=f"APPENDUID {result.uidvalidity} {result.uid}",
        )

    async def cmd_idle(self, command: c.IdleCommand) -> None:
        await self._renew_listening()
        self.send_line(wire.continuation("idling"))
        self.reader.expect_idle_done(command.tag)
        if self.view is not None:
            self.view.dirty = True

        while True:
            await self.refresh(allow_expunge=True)
            await self._flush()

            event = self.reader.next_event()
            if event is None:
                outcome = await self._receive(
                    self.options.autologout_seconds, wake_on_change=True
                )
                if outcome == "change":
                    continue
                if outcome in ("eof", "timeout", "stop"):
                    if outcome != "eof":
                        self._bye(
                            "Server shutting down"
                            if outcome == "stop"
                            else "Autologout; idle for too long"
                        )
                    self.state = State.LOGOUT
                    return
                event = self.reader.next_event()
                if event is None:
                    continue

            if isinstance(event, IdleDone):
                self.ok(command.tag, "IDLE terminated")
                return
            if isinstance(event, ParseError):
                raise bad(event.message)
            raise bad("Expected DONE")

    # -- selected ----------------------------------------------------------------------

    async def cmd_check(self, command: c.CheckCommand) -> None:
        self._require_view().dirty = True
        await self.refresh(allow_expunge=True)
        self.ok(command.tag, "CHECK completed")

    async def cmd_close(self, command: c.CloseCommand) -> None:
        view = self._require_view()
        if not view.read_only and view.mailbox.id is not None:
            try:
                await self._require_actions().expunge(view.mailbox.id, None)
            except ActionRefused as refusal:
                # CLOSE always closes; what could not be expunged stays.
                logger.info("[%s] CLOSE could not expunge: %s", self.id, refusal)
        self._deselect()
        self.ok(command.tag, "CLOSE completed")

    async def cmd_unselect(self, command: c.UnselectCommand) -> None:
        self._deselect()
        self.ok(command.tag, "UNSELECT completed")

    async def cmd_expunge(self, command: c.ExpungeCommand) -> None:
        view = self._require_view()
        if view.read_only:
            raise no("The mailbox is read-only", code="READ-ONLY")

        uids = None
        if command.uid and command.sequence_set is not None:
            uids = [uid for _, uid in self._resolve(command.sequence_set, True)]
            if not uids:
                self.ok(command.tag, "EXPUNGE completed")
                return

        assert view.mailbox.id is not None
        await self._act(self._require_actions().expunge(view.mailbox.id, uids))
        view.dirty = True
        await self.refresh(allow_expunge=True)
        self.ok(command.tag, "EXPUNGE completed")

    async def cmd_search(self, command: c.SearchCommand) -> None:
        await self.refresh(allow_expunge=False)
        view = self._require_view()
        try:
            search.check_supported(command.criteria)
        except search.SearchRefused as refusal:
            raise bad(str(refusal)) from None

        live = view.live_uids()
        rows = await self._require_store().search_rows(
            view.mailbox, live, with_text=search.needs_text(command.criteria)
        )
        context = search.SearchContext(
            sequence_of=view.sequence_of(),
            max_sequence=view.exists,
            max_uid=view.max_uid,
            recent=frozenset(view.recent),
        )
        found = search.search(command.criteria, rows, context)
        numbers = (
            [row.uid for row in found]
            if command.uid
            else [context.sequence_of[row.uid] for row in found]
        )

        if command.return_options is not None:
            self._send_esearch(command, numbers)
        else:
            text = b"".join(b" %d" % number for number in numbers)
            self.send_line(b"* SEARCH" + text + b"\r\n")
        self.ok(command.tag, "SEARCH completed")

    def _send_esearch(self, command: c.SearchCommand, numbers: list[int]) -> None:
        options = set(command.return_options or ()) or {"ALL"}
        parts = [b"(TAG " + wire.quote(command.tag.encode()) + b")"]
        if command.uid:
            parts.append(b"UID")
        if numbers:
            if "MIN" in options:
                parts.append(b"MIN %d" % min(numbers))
            if "MAX" in options:
                parts.append(b"MAX %d" % max(numbers))
            if "ALL" in options:
                parts.append(b"ALL " + str(SequenceSet.from_values(numbers)).encode())
        if "COUNT" in options:
            parts.append(b"COUNT %d" % len(numbers))
        self.send_line(b"* ESEARCH " + b" ".join(parts) + b"\r\n")

    async def cmd_fetch(self, command: c.FetchCommand) -> None:
        if command.changed_since is not None:
            raise bad("CHANGEDSINCE needs CONDSTORE, which is not enabled")
        await self.refresh(allow_expunge=False)
        view = self._require_view()

        try:
            columns = fetch.columns_for(command.attributes)
        except fetch.FetchRefused as refusal:
            raise bad(str(refusal)) from None

        pairs = self._resolve(command.sequence_set, command.uid)
        marked: set[int] = set()
        if fetch.sets_seen(command.attributes) and not view.read_only:
            marked = await self._mark_seen([uid for _, uid in pairs])

        store = self._require_store()
        needs_bodies = "raw" in columns
        header_only = fetch.headers_only(command.attributes)
        # Rows come in batches of FETCH_BATCH; message bytes are read for a
        # few megabytes of messages at a time, so memory stays bounded.
        row_columns = (columns - {"raw"}) | ({"size"} if needs_bodies else set())
        for start in range(0, len(pairs), FETCH_BATCH):
            batch = pairs[start : start + FETCH_BATCH]
            rows = await store.fetch_rows(
                view.mailbox, [uid for _, uid in batch], row_columns
            )
            by_uid = {row.uid: row for row in rows}
            found = [(seq, by_uid[uid]) for seq, uid in batch if uid in by_uid]
            groups = [found]
            if needs_bodies and not header_only:
                groups = _by_size(found, BODY_BYTES_PER_READ)

            for group in groups:
                if needs_bodies:
                    await store.read_bodies(
                        [row for _, row in group], header_only=header_only
                    )
                for sequence, row in group:
                    self._check_reply_size(row, command.attributes)
                    flags_changed = row.flags != view.flags.get(row.uid)
                    if row.uid in view.flags:
                        view.flags[row.uid] = row.flags
                    self.send_line(
                        fetch.fetch_response(
                            sequence,
                            row,
                            command.attributes,
                            uid_first=command.uid,
                            recent=row.uid in view.recent,
                            with_flags=row.uid in marked or flags_changed,
                        )
                    )
                    row.raw = None
                await self._flush()

        self.ok(command.tag, "FETCH completed")

    def _check_reply_size(
        self, row: FetchRow, attributes: Sequence[FetchAttribute]
    ) -> None:
        """Refuse a reply whose sections add up to more than the limit."""
        limit = self.options.max_fetch_reply
        # The bound needs no copying; only a request that might pass the limit
        # has its sections measured.
        if _reply_size_bound(row, attributes) <= limit:
            return
        if _reply_size(row, attributes) <= limit:
            return

        logger.info("[%s] FETCH reply over %d octets refused", self.id, limit)
        raise no(
            f"The reply would carry more than {limit} octets of message data; "
            "ask for fewer or smaller sections at a time",
            code="LIMIT",
        )

    async def _mark_seen(self, uids: list[int]) -> set[int]:
        """Set \\Seen as a side effect of FETCH; the UIDs that changed."""
        view = self._require_view()
        unseen = [uid for uid in uids if "\\Seen" not in view.flags.get(uid, ())]
        if not unseen or view.mailbox.id is None:
            return set()
        try:
            await self._require_actions().store(
                view.mailbox.id, unseen, "add", ["\\Seen"]
            )
        except ActionRefused as refusal:
            logger.warning("[%s] could not set \\Seen on FETCH: %s", self.id, refusal)
            return set()
        return set(unseen)

    async def cmd_store(self, command: c.StoreCommand) -> None:
        if command.unchanged_since is not None:
            raise bad("UNCHANGEDSINCE needs CONDSTORE, which is not enabled")
        await self.refresh(allow_expunge=False)
        view = self._require_view()
        if view.read_only:
            raise no("The mailbox is read-only", code="READ-ONLY")

        pairs = self._resolve(command.sequence_set, command.uid)
        uids = [uid for _, uid in pairs]
        if uids:
            assert view.mailbox.id is not None
            mode = {
                c.StoreAction.REPLACE: "replace",
                c.StoreAction.ADD: "add",
                c.StoreAction.REMOVE: "remove",
            }[command.action]
            await self._act(
                self._require_actions().store(
                    view.mailbox.id, uids, mode, command.flags
                )
            )

        # Report through the usual re-read: other sessions' changes and ours
        # alike. Without .SILENT every message of the set gets its FLAGS.
        before = dict(view.flags)
        view.dirty = True
        await self.refresh(
            allow_expunge=False,
            quiet=frozenset(uids) if command.silent else frozenset(),
        )
        if not command.silent:
            for sequence, uid in pairs:
                if uid in view.flags and before.get(uid) == view.flags[uid]:
                    self._send_flags(sequence, uid, view.flags[uid])
        self.ok(command.tag, "STORE completed")

    async def cmd_copy(self, command: c.CopyCommand) -> None:
        await self.refresh(allow_expunge=False)
        view = self._require_view()
        uids = [uid for _, uid in self._resolve(command.sequence_set, command.uid)]
        if not uids:
            self.ok(command.tag, "COPY completed")
            return

        assert view.mailbox.id is not None
        result = await self._act(
            self._require_actions().copy(view.mailbox.id, uids, command.mailbox)
        )
        self.ok(command.tag, "COPY completed", code=_copyuid(result))

    async def cmd_move(self, command: c.MoveCommand) -> None:
        await self.refresh(allow_expunge=False)
        view = self._require_view()
        if view.read_only:
            raise no("The mailbox is read-only", code="READ-ONLY")
        uids = [uid for _, uid in self._resolve(command.sequence_set, command.uid)]
        if not uids:
            self.ok(command.tag, "MOVE completed")
            return

        assert view.mailbox.id is not None
        result = await self._act(
            self._require_actions().move(view.mailbox.id, uids, command.mailbox)
        )
        code = _copyuid(result)
        if code:
            self.send_line(wire.response_line(None, "OK", "Moved", code=code))
        view.dirty = True
        await self.refresh(allow_expunge=True)
        self.ok(command.tag, "MOVE completed")

    async def _act(self, action: Awaitable[Any]) -> Any:
        """Run a provider action; its refusal becomes a tagged NO."""
        try:
            return await action
        except ActionRefused as refusal:
            raise no(refusal.message, code=refusal.code) from None


# -- helpers -----------------------------------------------------------------------


def _address_id(address: Address | Any | None) -> str | None:
    if address is None:
        return None
    return getattr(address, "provider_id", None) or None


def _by_size(
    rows: list[tuple[int, FetchRow]], budget: int
) -> list[list[tuple[int, FetchRow]]]:
    """Consecutive groups of rows whose sizes add up to about `budget`."""
    groups: list[list[tuple[int, FetchRow]]] = [[]]
    total = 0
    for item in rows:
        if groups[-1] and total + item[1].size > budget:
            groups.append([])
            total = 0
        groups[-1].append(item)
        total += item[1].size
    return groups


_WHOLE_MESSAGE_ITEMS = {
    "RFC822": BodySection(),
    "RFC822.HEADER": BodySection((), "HEADER"),
    "RFC822.TEXT": BodySection((), "TEXT"),
}


def _reply_size_bound(row: FetchRow, attributes: Sequence[FetchAttribute]) -> int:
    """An upper bound of the message bytes a FETCH reply carries: no section
    is larger than the message."""
    message_size = max(row.size, len(row.raw or b""))
    total = 0
    for attribute in attributes:
        if attribute.section is None and attribute.name not in _WHOLE_MESSAGE_ITEMS:
            continue
        size = message_size
        if attribute.partial is not None:
            left = max(message_size - attribute.partial.start, 0)
            size = min(attribute.partial.length, left)
        total += size
    return total


def _reply_size(row: FetchRow, attributes: Sequence[FetchAttribute]) -> int:
    """The message bytes a FETCH reply carries, measured section by section."""
    total = 0
    for attribute in attributes:
        section = attribute.section or _WHOLE_MESSAGE_ITEMS.get(attribute.name)
        if section is None:
            continue
        size = len(fetch.section_bytes(row, section))
        if attribute.partial is not None:
            left = max(size - attribute.partial.start, 0)
            size = min(attribute.partial.length, left)
        total += size
    return total


def _copyuid(result: CopyResult) -> str | None:
    if not result.source_uids:
        return None
    source = SequenceSet.from_values(result.source_uids)
    # The target UIDs must pair up with the sources in order, so they are
    # listed one by one unless they are one ascending run.
    targets = ",".join(str(uid) for uid in result.target_uids)
    if result.target_uids == list(
        range(result.target_uids[0], result.target_uids[0] + len(result.target_uids))
    ):
        targets = str(SequenceSet.from_values(result.target_uids))
    return f"COPYUID {result.uidvalidity} {source} {targets}"


def _pattern(reference: str, pattern: str) -> re.Pattern[str]:
    """A LIST pattern as a regex; the reference is simply prefixed, as
    Dovecot does (RFC 3501 §6.3.8 leaves the joining to the server)."""
    regex = "".join(
        ".*" if char == "*" else "[^/]*" if char == "%" else re.escape(char)
        for char in reference + pattern
    )
    return re.compile(regex + r"\Z", re.DOTALL)


def _matches(pattern: re.Pattern[str], name: str) -> bool:
    if pattern.match(name):
        return True
    # INBOX is case-insensitive, so "inbox" and "Inbox" patterns find it.
    if name == "INBOX":
        return (
            re.compile(pattern.pattern, re.IGNORECASE | re.DOTALL).match(name)
            is not None
        )
    return False


def _printable(value: str | None) -> str:
    if not value:
        return "?"
    return "".join(char if " " <= char <= "~" else "?" for char in value[:40])


def _trace_text(data: bytes) -> str:
    """A server line for the DEBUG trace, without message content."""
    if re.match(rb"\* \d+ FETCH ", data):
        head = data.split(b" (", 1)[0]
        return f"{head.decode('ascii', 'replace')} (... {len(data)} octets)"
    first = data.split(b"\r\n", 1)[0][:200]
    return first.decode("ascii", "replace")
