"""Encoding of server responses (RFC 3501 §7 and §9).

Every helper returns bytes ready for the socket. Human-readable text is
cleaned so that nothing a client sent can break a response line.
"""

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from protocols.imap.utf7 import encode_modified_utf7

logger = logging.getLogger(__name__)

CRLF = b"\r\n"
NIL = b"NIL"

# Longer strings go out as literals so that response lines stay short.
MAX_QUOTED_LENGTH = 4096

_MONTHS = (
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
_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\\]]+')
_NEEDS_LITERAL = re.compile(rb"[\x00\r\n\x80-\xff]")
_SYSTEM_FLAG = re.compile(r"\\(?:[A-Za-z]+|\*)")
_KEYWORD = re.compile(r'[^\x00-\x20\x7f-\U0010ffff(){%*"\\\]]+')


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def is_atom(value: bytes) -> bool:
    """Return True if `value` can be sent as an atom."""
    return _ATOM.fullmatch(value) is not None


def quote(value: bytes) -> bytes:
    """Return `value` as a quoted string; it must not need a literal."""
    if _NEEDS_LITERAL.search(value):
        raise ValueError("value needs a literal, not a quoted string")
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(value: bytes) -> bytes:
    """Return `value` as a literal: its length line, then the bytes."""
    return b"{%d}\r\n" % len(value) + value


def quote_or_literal(value: str | bytes) -> bytes:
    """Return a string as quoted text when it can be, else as a literal.

    CR, LF, NUL and 8-bit bytes are not allowed inside a quoted string, so
    such values (and very long ones) go out as literals; the rest is quoted.
    """
    data = _as_bytes(value)
    if len(data) > MAX_QUOTED_LENGTH or _NEEDS_LITERAL.search(data):
        return literal(data)
    return quote(data)


def encode_string(value: str | bytes) -> bytes:
    """Return an IMAP string (quoted or literal) for `value`."""
    return quote_or_literal(value)


def encode_nstring(value: str | bytes | None) -> bytes:
    """Return NIL for None, else an IMAP string."""
    if value is None:
        return NIL
    return quote_or_literal(value)


def encode_astring(value: str | bytes) -> bytes:
    """Return an atom when `value` is one (and is not NIL), else a string."""
    data = _as_bytes(value)
    if is_atom(data) and data.upper() != NIL:
        return data
    return quote_or_literal(data)


def encode_number(value: int) -> bytes:
    if value < 0:
        raise ValueError("IMAP numbers are never negative")
    return b"%d" % value


def format_list(items: Iterable[bytes]) -> bytes:
    """Return already-encoded items as a parenthesised list."""
    return b"(" + b" ".join(items) + b")"


def format_list_or_nil(items: Iterable[bytes]) -> bytes:
    """Return a parenthesised list, or NIL when there are no items."""
    collected = list(items)
    if not collected:
        return NIL
    return format_list(collected)


def format_flag(flag: str) -> bytes:
    """Return one flag; system flags start with a backslash."""
    if _SYSTEM_FLAG.fullmatch(flag) or _KEYWORD.fullmatch(flag):
        return flag.encode("ascii")
    raise ValueError("flag is not a valid atom")


def format_flags(flags: Iterable[str]) -> bytes:
    """Return a flag list such as ``(\\Seen $Forwarded)``."""
    return format_list(format_flag(flag) for flag in flags)


def format_internaldate(moment: datetime) -> bytes:
    """Return a quoted date-time; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)

    offset = moment.utcoffset()
    assert offset is not None
    offset_minutes = int(offset.total_seconds()) // 60
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)

    text = (
        f'"{moment.day:02d}-{_MONTHS[moment.month - 1]}-{moment.year:04d} '
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} "
        f'{sign}{hours:02d}{minutes:02d}"'
    )
    return text.encode("ascii")


def encode_mailbox_name(name: str, *, utf8: bool = False) -> bytes:
    """Return a mailbox name for LIST, LSUB and STATUS replies.

    Names are sent in modified UTF-7 unless the client enabled UTF8=ACCEPT.
    """
    if utf8:
        return quote_or_literal(name)
    return quote_or_literal(encode_modified_utf7(name))


def clean_text(text: str) -> bytes:
    """Return human-readable reply text with anything unsafe replaced."""
    return "".join(char if " " <= char <= "~" else "?" for char in text).encode()


def response_line(
    tag: str | None, status: str, text: str, *, code: str | None = None
) -> bytes:
    """Return a status reply such as ``a1 OK [READ-WRITE] done`` with CRLF.

    A tag of None gives the untagged form ``* BAD ...``.
    """
    parts = [tag.encode("ascii") if tag else b"*", status.encode("ascii")]
    if code:
        parts.append(b"[" + clean_text(code) + b"]")
    if text:
        parts.append(clean_text(text))
    return b" ".join(parts) + CRLF


def untagged(*parts: bytes | str) -> bytes:
    """Return an untagged data reply from already-encoded parts."""
    return b"* " + b" ".join(_as_bytes(part) for part in parts) + CRLF


def continuation(text: str = "Ready") -> bytes:
    """Return a command continuation request."""
    return b"+ " + clean_text(text) + CRLF
