"""Split the client's byte stream into commands, without doing any I/O.

The connection feeds whatever it received and then asks for events until
there are none::

    reader.feed(data)
    while (event := reader.next_event()) is not None:
        ...  # a Command, NeedContinuation, IdleDone, AuthenticateResponse
        ...  # or ParseError

A line ending in ``{n}`` announces a synchronizing literal: the reader
returns `NeedContinuation` and the connection must answer ``+ ...`` before
the client sends the n octets. ``{n+}`` (LITERAL+) needs no answer.

Limits are checked before anything is buffered. A literal that is too large
is refused before its continuation; a non-synchronizing one is read and
thrown away, then refused, so its bytes are never taken for commands.
"""

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from protocols.imap import wire
from protocols.imap.commands import Command
from protocols.imap.lexer import LITERAL_MARKER, TAG, ParseError
from protocols.imap.parser import decode_sasl_response, parse_command

logger = logging.getLogger(__name__)

# Enough of a discarded line's end to recognise a literal marker there.
_TAIL_LENGTH = 32

# A literal size with more digits than this is treated as endless.
_MAX_SIZE_DIGITS = 20
_ENDLESS = 2**64

# Everything from the first byte that is not a letter.
_AFTER_LETTERS = re.compile(rb"[^A-Za-z].*", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ReaderLimits:
    """Size limits, in octets.

    `max_append_size` bounds the message literal of APPEND;
    `max_literal_size` bounds every other literal. `max_command_size` bounds
    all lines and literals of one command except the APPEND message.
    """

    max_line_length: int = 64 * 1024
    max_append_size: int = 64 * 1024 * 1024
    max_literal_size: int = 64 * 1024
    max_command_size: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class NeedContinuation:
    """The client waits for ``+`` before sending a literal of `size` octets.

    `command` is the command word ("APPEND", "UID SEARCH") so the connection
    can refuse early instead: answer NO or BAD and call `refuse_literal`.
    """

    tag: str | None
    size: int
    command: str = ""

    def response(self) -> bytes:
        return wire.continuation("Ready for literal data")


@dataclass(frozen=True, slots=True)
class IdleDone:
    """The client ended the IDLE command tagged `tag`."""

    tag: str


@dataclass(frozen=True, slots=True)
class AuthenticateResponse:
    """One decoded client line of an AUTHENTICATE exchange.

    `cancelled` is set when the client sent "*" to abort.
    """

    tag: str
    data: bytes = field(repr=False)
    cancelled: bool = False


ReaderEvent = Command | NeedContinuation | IdleDone | AuthenticateResponse | ParseError


def _tag_of_prefix(prefix: bytes) -> str | None:
    """Return the tag of a line of which only the start is known."""
    head, space, _ = prefix.partition(b" ")
    if space and TAG.fullmatch(head):
        return head.decode("ascii")
    return None


def _command_word(first_line: bytes) -> str:
    """Return the command word of a command's first line, like "UID FETCH"."""
    words = [
        _AFTER_LETTERS.sub(b"", word).upper() for word in first_line.split(b" ", 3)[1:3]
    ]
    if len(words) == 2 and words[0] == b"UID":
        return "UID " + words[1].decode("ascii")
    return words[0].decode("ascii") if words else ""


def _literal_size(digits: bytes) -> int:
    if len(digits) > _MAX_SIZE_DIGITS:
        return _ENDLESS
    return int(digits)


class CommandReader:
    """Incremental reader of client commands; see the module docstring.

    Set `utf8_mailboxes` once the client has enabled UTF8=ACCEPT. `limits`
    may be replaced at any time, e.g. raised once the client has logged in.
    """

    def __init__(
        self, limits: ReaderLimits | None = None, *, utf8_mailboxes: bool = False
    ) -> None:
        self.limits = limits or ReaderLimits()
        self.utf8_mailboxes = utf8_mailboxes

        self._buffer = bytearray()
        self._scanned = 0
        self._skipping_line = False
        self._tail = b""
        self._expecting: tuple[str, str] | None = None
        self._reset_command()

    def _reset_command(self) -> None:
        self._segments: list[bytes] = []
        self._tag: str | None = None
        self._command_size = 0
        self._append_literal_taken = False
        self._literal_remaining: int | None = None
        self._literal = bytearray()
        # Set while the rest of a refused command is read and thrown away.
        self._failure: ParseError | None = None

    # -- public interface ----------------------------------------------------

    @property
    def buffered(self) -> int:
        """Octets received but not yet turned into events."""
        return len(self._buffer)

    @property
    def in_command(self) -> bool:
        """True while part of a command has been read (or is being skipped)."""
        return (
            bool(self._segments)
            or self._literal_remaining is not None
            or self._failure is not None
        )

    def feed(self, data: bytes) -> None:
        """Add bytes received from the client."""
        self._buffer += data

    def events(self) -> Iterator[ReaderEvent]:
        """Yield events until more input is needed."""
        while (event := self.next_event()) is not None:
            yield event

    def expect_idle_done(self, tag: str) -> None:
        """Take the next line as the DONE that ends IDLE `tag`."""
        self._expect("idle", tag)

    def expect_authenticate_response(self, tag: str) -> None:
        """Take the next line as a base64 AUTHENTICATE response."""
        self._expect("auth", tag)

    def refuse_literal(self) -> None:
        """Drop the command whose `NeedContinuation` was just returned.

        The connection has answered it with NO or BAD instead of ``+``, so the
        client will not send the literal and its next line is a new command.
        """
        if self._literal_remaining is None or self._literal or self._failure:
            raise RuntimeError("no literal is waiting for a continuation")
        self._reset_command()

    def _expect(self, kind: str, tag: str) -> None:
        if self.in_command or self._skipping_line:
            raise RuntimeError("a continuation line cannot interrupt a command")
        self._expecting = (kind, tag)

    def next_event(self) -> ReaderEvent | None:
        """Return the next event, or None when more input is needed."""
        while True:
            if self._literal_remaining is not None:
                if not self._consume_literal():
                    return None
                continue

            if self._skipping_line:
                tail = self._skip_line()
                if tail is None:
                    return None
                event = self._after_refused_line(tail)
            else:
                line = self._next_line()
                if line is None:
                    if self._skipping_line:
                        continue
                    return None
                event = self._handle_line(line)

            if event is not None:
                return event

    # -- lines -------------------------------------------------------------------

    def _next_line(self) -> bytes | None:
        end = self._buffer.find(b"\n", self._scanned)
        if end < 0:
            if len(self._buffer) > self.limits.max_line_length + 1:
                self._start_skipping_line()
            else:
                self._scanned = len(self._buffer)
            return None

        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._scanned = 0
        return line[:-1] if line.endswith(b"\r") else line

    def _start_skipping_line(self) -> None:
        """Throw away a line that is too long, keeping only its end."""
        if self._expecting is not None:
            tag: str | None = self._expecting[1]
        elif self._segments:
            tag = self._tag
        else:
            tag = _tag_of_prefix(bytes(self._buffer[:1024]))

        if self._failure is None:
            self._failure = ParseError(tag, "command line too long")

        self._tail = bytes(self._buffer[-_TAIL_LENGTH:])
        self._buffer.clear()
        self._scanned = 0
        self._skipping_line = True

    def _skip_line(self) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            self._tail = (self._tail + bytes(self._buffer[-_TAIL_LENGTH:]))[
                -_TAIL_LENGTH:
            ]
            self._buffer.clear()
            return None

        tail = (self._tail + bytes(self._buffer[max(0, end - _TAIL_LENGTH) : end]))[
            -_TAIL_LENGTH:
        ]
        del self._buffer[: end + 1]
        self._skipping_line = False
        self._tail = b""
        return tail[:-1] if tail.endswith(b"\r") else tail

    def _handle_line(self, line: bytes) -> ReaderEvent | None:
        if self._expecting is not None:
            return self._expected_line(line)
        if self._failure is not None:
            return self._after_refused_line(line)

        first_line = not self._segments
        if first_line:
            if not line:
                # Some clients send a stray CRLF after a literal; ignore it.
                return None
            self._tag = _tag_of_prefix(line + b" ")

        if len(line) > self.limits.max_line_length:
            return self._refuse(line, "command line too long")
        if b"\x00" in line:
            return self._refuse(line, "NUL byte in command")
        if b"\r" in line:
            return self._refuse(line, "CR without LF in command")

        self._command_size += len(line) + 2
        if self._command_size > self.limits.max_command_size:
            return self._refuse(line, "command too long")

        marker = LITERAL_MARKER.search(line)
        self._segments.append(line)
        if marker is None:
            return self._finish_command()
        return self._start_literal(line, marker.group(1), marker.group(2) == b"")

    def _start_literal(
        self, line: bytes, digits: bytes, synchronizing: bool
    ) -> ReaderEvent | None:
        size = _literal_size(digits)
        append_message = self._is_append_message(line)
        limit = (
            self.limits.max_append_size
            if append_message
            else self.limits.max_literal_size
        )

        if size > limit:
            error = ParseError(
                self._tag,
                f"literal of {size} octets is over the limit of {limit}",
                code="TOOBIG",
                status="NO" if append_message else "BAD",
            )
            return self._refuse(line, error)

        if append_message:
            self._append_literal_taken = True
        else:
            self._command_size += size
            if self._command_size > self.limits.max_command_size:
                return self._refuse(line, "command too long")

        self._literal_remaining = size
        if synchronizing:
            return NeedContinuation(self._tag, size, _command_word(self._segments[0]))
        return None

    def _is_append_message(self, line: bytes) -> bool:
        """Tell whether a literal is the message of APPEND.

        The mailbox name may also be a literal; it is the one that directly
        follows the command word on the first line.
        """
        if self._append_literal_taken:
            return False

        words = self._segments[0].split(b" ", 3)
        if len(words) < 3 or words[1].upper() != b"APPEND":
            return False
        mailbox_is_literal = len(self._segments) == 1 and len(words) == 3
        return not mailbox_is_literal

    def _consume_literal(self) -> bool:
        """Move literal octets out of the buffer; True once all arrived."""
        assert self._literal_remaining is not None
        take = min(len(self._buffer), self._literal_remaining)
        if take:
            if self._failure is None:
                self._literal += self._buffer[:take]
            del self._buffer[:take]
            self._scanned = 0
            self._literal_remaining -= take

        if self._literal_remaining:
            return False

        if self._failure is None:
            self._segments.append(bytes(self._literal))
            self._literal = bytearray()
        self._literal_remaining = None
        return True

    def _finish_command(self) -> ReaderEvent:
        segments = self._segments
        self._reset_command()
        try:
            return parse_command(segments, utf8_mailboxes=self.utf8_mailboxes)
        except ParseError as error:
            return error

    # -- refusing a command ------------------------------------------------------

    def _refuse(self, line: bytes, error: ParseError | str) -> ReaderEvent | None:
        if isinstance(error, str):
            error = ParseError(self._tag, error)
        self._failure = error
        self._segments = []
        self._literal = bytearray()
        return self._after_refused_line(line)

    def _after_refused_line(self, line: bytes) -> ReaderEvent | None:
        """Decide what follows a line of a refused command.

        A non-synchronizing literal at its end is sent anyway, so it is read
        and dropped; otherwise the command ends here and the error is due.
        """
        if self._expecting is not None:
            self._expecting = None
            return self._take_failure()

        marker = LITERAL_MARKER.search(line)
        if marker is not None and marker.group(2) == b"+":
            self._literal_remaining = _literal_size(marker.group(1))
            return None
        return self._take_failure()

    def _take_failure(self) -> ParseError:
        error = self._failure
        assert error is not None
        self._reset_command()
        return error

    # -- IDLE and AUTHENTICATE ---------------------------------------------------

    def _expected_line(self, line: bytes) -> ReaderEvent:
        assert self._expecting is not None
        kind, tag = self._expecting
        self._expecting = None

        if len(line) > self.limits.max_line_length:
            return ParseError(tag, "line too long")

        if kind == "idle":
            if line.upper() == b"DONE":
                return IdleDone(tag)
            return ParseError(tag, "expected DONE to end IDLE")

        if line == b"*":
            return AuthenticateResponse(tag, b"", cancelled=True)
        try:
            return AuthenticateResponse(tag, decode_sasl_response(tag, line))
        except ParseError as error:
            return error
