"""Tokens of IMAP command syntax (RFC 3501 §9) and the parse error.

A command reaches the lexer as segments: the text of each line (without its
CRLF) alternating with the payload of the literal that line announced. The
`CommandReader` guarantees that every line but the last ends with a literal
marker such as ``{12}`` or ``{12+}`` and that the next segment is its payload.
"""

import logging
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone

from protocols.imap import wire
from protocols.imap.sequence import SequenceSet, SequenceSetError
from protocols.imap.utf7 import ModifiedUTF7Error, decode_modified_utf7

logger = logging.getLogger(__name__)

# atom-specials are ( ) { SP CTL % * " \ ] and we also refuse 8-bit bytes.
_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\\]]+')
_ASTRING_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\]+')
_LIST_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){"\\]+')
TAG = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\+]+')
_NUMBER = re.compile(rb"[0-9]+")
_SEQUENCE_SET = re.compile(rb"[0-9:,*$]+")
_QUOTED_BODY = re.compile(rb'(?:[^"\\\x00\r\n]|\\["\\])*')
_QUOTED_ESCAPE = re.compile(rb'\\(["\\])')
_DATE = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
_DATE_TIME = re.compile(
    rb"( [0-9]|[0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) "
    rb"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"
)

LITERAL_MARKER = re.compile(rb"~?\{([0-9]+)(\+?)\}\Z")

MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_MONTH_NUMBERS = {
    name.upper().encode(): number for number, name in enumerate(MONTHS, 1)
}

MAX_NUMBER = 2**32 - 1
MAX_NUMBER64 = 2**63 - 1


class ParseError(Exception):
    """A command the server cannot accept; it renders its own reply.

    `tag` is None when the line had no usable tag (reply with ``* BAD``).
    `status` is "BAD" for syntax errors and "NO" for well-formed requests the
    server refuses (an unknown CHARSET, an APPEND that is too large).
    """

    def __init__(
        self,
        tag: str | None,
        message: str,
        *,
        code: str | None = None,
        status: str = "BAD",
    ) -> None:
        super().__init__(message)
        self.tag = tag
        self.message = message
        self.code = code
        self.status = status

    def __repr__(self) -> str:
        return (
            f"ParseError(tag={self.tag!r}, message={self.message!r}, "
            f"code={self.code!r}, status={self.status!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParseError):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[str | None, str, str | None, str]:
        return (self.tag, self.message, self.code, self.status)

    def response(self) -> bytes:
        """Return the reply line for this error."""
        return wire.response_line(self.tag, self.status, self.message, code=self.code)


def printable(data: bytes, limit: int = 40) -> str:
    """Return client bytes made safe to quote in a reply text."""
    text = data[:limit].decode("ascii", "replace")
    text = "".join(char if " " <= char <= "~" else "?" for char in text)
    return text + ("..." if len(data) > limit else "")


class Cursor:
    """Reads tokens from one command's segments, left to right."""

    def __init__(
        self,
        segments: Sequence[bytes],
        *,
        tag: str | None = None,
        utf8_mailboxes: bool = False,
    ) -> None:
        if not segments or len(segments) % 2 == 0:
            raise ValueError("segments must be lines alternating with literals")

        self.tag = tag
        self.utf8_mailboxes = utf8_mailboxes
        self._segments = segments
        self._index = 0
        self._line = segments[0]
        self._pos = 0

    # -- errors and position ------------------------------------------------

    def error(self, message: str, **kwargs: str) -> ParseError:
        return ParseError(self.tag, message, **kwargs)

    def _next_text(self) -> str:
        rest = self._line[self._pos :]
        if not rest:
            return "end of line"
        return repr(printable(rest, 20))

    def fail_expected(self, what: str) -> ParseError:
        return self.error(f"expected {what}, found {self._next_text()}")

    # -- raw access ----------------------------------------------------------

    def peek(self) -> int | None:
        """Return the next byte of the current line, or None at its end."""
        if self._pos < len(self._line):
            return self._line[self._pos]
        return None

    def at_end(self) -> bool:
        """Return True when the whole command has been read."""
        return self._pos >= len(self._line) and self._index >= len(self._segments) - 1

    def accept(self, token: bytes) -> bool:
        """Consume `token` (case-insensitively) if it comes next."""
        end = self._pos + len(token)
        if self._line[self._pos : end].upper() == token.upper():
            self._pos = end
            return True
        return False

    def expect(self, token: bytes, what: str | None = None) -> None:
        if not self.accept(token):
            raise self.fail_expected(what or repr(token.decode()))

    def sp(self) -> None:
        if self.accept(b" "):
            return
        if self.peek() == ord(")"):
            raise self.error("unbalanced parentheses: unexpected ')'")
        raise self.fail_expected("a space")

    def end(self) -> None:
        """Require that nothing follows."""
        if self.peek() == ord(")"):
            raise self.error("unbalanced parentheses: unexpected ')'")
        if not self.at_end():
            raise self.error(f"unexpected {self._next_text()} at end of command")

    def match(self, pattern: re.Pattern[bytes]) -> bytes | None:
        found = pattern.match(self._line, self._pos)
        if found is None or found.end() == self._pos:
            return None
        self._pos = found.end()
        return found.group()

    # -- atoms and numbers ---------------------------------------------------

    def atom(self, what: str = "an atom") -> str:
        token = self.match(_ATOM)
        if token is None:
            raise self.fail_expected(what)
        return token.decode("ascii")

    def keyword(self, what: str = "a keyword") -> str:
        return self.atom(what).upper()

    def number(self, maximum: int = MAX_NUMBER, what: str = "a number") -> int:
        token = self.match(_NUMBER)
        if token is None:
            raise self.fail_expected(what)

        if len(token) > 20 or int(token) > maximum:
            raise self.error(f"number {printable(token)} is too large")
        return int(token)

    def nz_number(self, what: str = "a non-zero number") -> int:
        value = self.number(what=what)
        if value == 0:
            raise self.error(f"expected {what}, found 0")
        return value

    def sequence_set(self) -> SequenceSet:
        token = self.match(_SEQUENCE_SET)
        if token is None:
            raise self.fail_expected("a sequence set")

        try:
            return SequenceSet.parse(token)
        except SequenceSetError as error:
            raise self.error(str(error)) from error

    # -- strings ---------------------------------------------------------------

    def _literal(self) -> bytes | None:
        """Consume a literal if one comes next and return its payload."""
        rest = self._line[self._pos :]
        if not rest.startswith((b"{", b"~{")):
            return None

        marker = LITERAL_MARKER.match(rest)
        if marker is None or self._index + 1 >= len(self._segments):
            raise self.error("a literal must end its line")
        if rest.startswith(b"~"):
            raise self.error("binary literals are not supported here")

        payload = self._segments[self._index + 1]
        self._index += 2
        self._line = self._segments[self._index]
        self._pos = 0
        return payload

    def _quoted(self) -> bytes | None:
        if self.peek() != ord('"'):
            return None

        body = _QUOTED_BODY.match(self._line, self._pos + 1)
        assert body is not None  # the pattern also matches the empty string
        close = body.end()
        if close >= len(self._line) or self._line[close] != ord('"'):
            raise self.error("unterminated or invalid quoted string")

        self._pos = close + 1
        return _QUOTED_ESCAPE.sub(rb"\1", body.group())

    def string(self, what: str = "a string") -> bytes:
        """Read a quoted string or a literal."""
        value = self._quoted()
        if value is None:
            value = self._literal()
        if value is None:
            raise self.fail_expected(what)
        return value

    def astring(self, what: str = "a string") -> bytes:
        """Read an atom (which may contain "]"), a quoted string or a literal."""
        token = self.match(_ASTRING_ATOM)
        if token is not None:
            return token
        return self.string(what)

    def nstring(self, what: str = "a string or NIL") -> bytes | None:
        if self.accept_nil():
            return None
        return self.string(what)

    def accept_nil(self) -> bool:
        """Consume NIL if it comes next as a whole atom."""
        token = _ATOM.match(self._line, self._pos)
        if token is not None and token.group().upper() == b"NIL":
            self._pos = token.end()
            return True
        return False

    def text(self, value: bytes, what: str) -> str:
        """Decode client bytes as UTF-8, refusing NUL."""
        if b"\x00" in value:
            raise self.error(f"NUL byte in {what}")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise self.error(f"{what} is not valid UTF-8") from error

    # -- mailboxes -------------------------------------------------------------

    def mailbox(self, what: str = "a mailbox name") -> str:
        """Read a mailbox name; "INBOX" is case-insensitive."""
        name = self.mailbox_text(self.astring(what), what)
        if name.upper() == "INBOX":
            return "INBOX"
        return name

    def list_mailbox(self) -> str:
        """Read a LIST pattern, which may contain the wildcards % and *."""
        token = self.match(_LIST_ATOM)
        if token is None:
            token = self.string("a mailbox pattern")
        return self.mailbox_text(token, "mailbox pattern")

    def mailbox_text(self, raw: bytes, what: str) -> str:
        if self.utf8_mailboxes:
            name = self.text(raw, what)
            if any(char < " " or char == "\x7f" for char in name):
                raise self.error(f"control character in {what}")
            return name

        try:
            return decode_modified_utf7(raw)
        except ModifiedUTF7Error as error:
            raise self.error(f"invalid {what}: {error}") from error

    # -- lists -----------------------------------------------------------------

    def begin_list(self, what: str) -> None:
        if not self.accept(b"("):
            raise self.fail_expected(f"'(' to start {what}")

    def end_of_list(self) -> bool:
        """Consume ")" if it comes next; otherwise require a separating space."""
        if self.accept(b")"):
            return True
        if self.peek() is None:
            raise self.error("unbalanced parentheses: missing ')'")
        self.sp()
        return False

    # -- dates ---------------------------------------------------------------

    def search_date(self) -> date:
        """Read a search date: d-Mon-yyyy, optionally quoted."""
        quoted = self.accept(b'"')
        found = self.match(_DATE)
        if found is None:
            raise self.fail_expected("a date like 1-Feb-2024")
        if quoted and not self.accept(b'"'):
            raise self.fail_expected("a closing quote after the date")

        parts = _DATE.fullmatch(found)
        assert parts is not None
        day, month, year = parts.groups()
        return self._calendar_date(int(year), month, int(day), found)

    def date_time(self) -> datetime:
        """Read a date-time: "dd-Mon-yyyy hh:mm:ss +zzzz"."""
        if not self.accept(b'"'):
            raise self.fail_expected("a quoted date-time")
        found = self.match(_DATE_TIME)
        if found is None or not self.accept(b'"'):
            raise self.fail_expected('a date-time like "01-Feb-2024 10:00:00 +0000"')

        parts = _DATE_TIME.fullmatch(found)
        assert parts is not None
        day, month, year, hour, minute, second, sign, zone_h, zone_m = parts.groups()
        day_date = self._calendar_date(int(year), month, int(day), found)

        if int(hour) > 23 or int(minute) > 59 or int(second) > 60:
            raise self.error(f"invalid time in {printable(found)}")
        if int(zone_h) > 23 or int(zone_m) > 59:
            raise self.error(f"invalid time zone in {printable(found)}")

        offset = timedelta(hours=int(zone_h), minutes=int(zone_m))
        zone = timezone(-offset if sign == b"-" else offset) if offset else UTC
        # A leap second is kept as the last whole second of that minute.
        return datetime(
            day_date.year,
            day_date.month,
            day_date.day,
            int(hour),
            int(minute),
            min(int(second), 59),
            tzinfo=zone,
        )

    def _calendar_date(self, year: int, month: bytes, day: int, raw: bytes) -> date:
        month_number = _MONTH_NUMBERS.get(month.upper())
        if month_number is None:
            raise self.error(f"unknown month in {printable(raw)}")
        try:
            return date(year, month_number, day)
        except ValueError as error:
            raise self.error(f"invalid date {printable(raw)}") from error
