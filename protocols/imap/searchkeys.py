"""SEARCH criteria as a tree of typed keys (RFC 3501 §6.4.4).

Several keys in a row, and a parenthesised list, mean AND. NEW and OLD are
rewritten into flag keys; everything else keeps the client's meaning.
"""

import logging
from dataclasses import dataclass
from datetime import date
from typing import Literal

from protocols.imap.lexer import MAX_NUMBER64, Cursor
from protocols.imap.sequence import SequenceSet

logger = logging.getLogger(__name__)

# NOT NOT NOT ... must not exhaust Python's stack.
MAX_SEARCH_DEPTH = 64

# Charsets a search string may be sent in, as Python codec names.
SUPPORTED_CHARSETS = {
    "UTF-8": "utf-8",
    "US-ASCII": "utf-8",
    "ISO-8859-1": "iso-8859-1",
    "ISO-8859-2": "iso-8859-2",
    "ISO-8859-15": "iso-8859-15",
    "WINDOWS-1252": "cp1252",
}
BADCHARSET_CODE = "BADCHARSET (UTF-8 US-ASCII)"


@dataclass(frozen=True, slots=True)
class SearchKey:
    """Base of every search key."""


@dataclass(frozen=True, slots=True)
class AllKey(SearchKey):
    """ALL: every message."""


@dataclass(frozen=True, slots=True)
class FlagKey(SearchKey):
    """A flag or keyword is set (present) or not set (not present).

    ANSWERED, UNSEEN, KEYWORD $Forwarded, OLD (\\Recent absent), and so on.
    """

    flag: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class HeaderKey(SearchKey):
    """The header `field` contains `value` (an empty value: field exists)."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class BodyKey(SearchKey):
    """BODY: the body text contains `value`."""

    value: str


@dataclass(frozen=True, slots=True)
class TextKey(SearchKey):
    """TEXT: the header or body contains `value`."""

    value: str


@dataclass(frozen=True, slots=True)
class DateKey(SearchKey):
    """BEFORE/ON/SINCE on the internal date, or SENT* on the Date header."""

    comparison: Literal["before", "on", "since"]
    value: date
    sent: bool = False


@dataclass(frozen=True, slots=True)
class SizeKey(SearchKey):
    """LARGER/SMALLER than `size` octets (RFC822.SIZE)."""

    comparison: Literal["larger", "smaller"]
    size: int


@dataclass(frozen=True, slots=True)
class SequenceKey(SearchKey):
    """A sequence set of message numbers, or of UIDs after UID."""

    sequence_set: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class ModSeqKey(SearchKey):
    """MODSEQ n (RFC 7162): changed at or after mod-sequence `modseq`."""

    modseq: int


@dataclass(frozen=True, slots=True)
class NotKey(SearchKey):
    key: SearchKey


@dataclass(frozen=True, slots=True)
class OrKey(SearchKey):
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class AndKey(SearchKey):
    keys: tuple[SearchKey, ...]


_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "RECENT": ("\\Recent", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
    "OLD": ("\\Recent", False),
}
_HEADER_KEYS = {
    "BCC": "Bcc",
    "CC": "Cc",
    "FROM": "From",
    "SUBJECT": "Subject",
    "TO": "To",
}
_DATE_KEYS: dict[str, tuple[Literal["before", "on", "since"], bool]] = {
    "BEFORE": ("before", False),
    "ON": ("on", False),
    "SINCE": ("since", False),
    "SENTBEFORE": ("before", True),
    "SENTON": ("on", True),
    "SENTSINCE": ("since", True),
}
_KEYS_WITH_ARGUMENTS = frozenset(
    {"KEYWORD", "UNKEYWORD", "HEADER", "BODY", "TEXT", "LARGER", "SMALLER"}
    | {"UID", "NOT", "OR", "MODSEQ"}
    | set(_HEADER_KEYS)
    | set(_DATE_KEYS)
)
_SEQUENCE_START = frozenset(b"0123456789*$")


def codec_for_charset(cursor: Cursor, charset: str | None) -> str:
    """Return the Python codec for a SEARCH charset, or refuse it with NO."""
    if charset is None:
        return "utf-8"

    codec = SUPPORTED_CHARSETS.get(charset.upper())
    if codec is None:
        raise cursor.error("unsupported charset", code=BADCHARSET_CODE, status="NO")
    return codec


class _SearchParser:
    def __init__(self, cursor: Cursor, codec: str) -> None:
        self.cursor = cursor
        self.codec = codec

    def criteria(self) -> SearchKey:
        keys = [self.key(0)]
        while not self.cursor.at_end():
            self.cursor.sp()
            keys.append(self.key(0))
        return keys[0] if len(keys) == 1 else AndKey(tuple(keys))

    def search_string(self) -> str:
        raw = self.cursor.astring("a search string")
        if b"\x00" in raw:
            raise self.cursor.error("NUL byte in search string")
        try:
            return raw.decode(self.codec)
        except UnicodeDecodeError as error:
            raise self.cursor.error(
                f"search string is not valid {self.codec}"
            ) from error

    def key(self, depth: int) -> SearchKey:
        cursor = self.cursor
        if depth > MAX_SEARCH_DEPTH:
            raise cursor.error("search criteria are nested too deeply")

        next_byte = cursor.peek()
        if next_byte == ord("("):
            cursor.expect(b"(")
            if cursor.peek() == ord(")"):
                raise cursor.error("empty parenthesised search list")
            keys = [self.key(depth + 1)]
            while not cursor.end_of_list():
                keys.append(self.key(depth + 1))
            return keys[0] if len(keys) == 1 else AndKey(tuple(keys))

        if next_byte is not None and next_byte in _SEQUENCE_START:
            return SequenceKey(cursor.sequence_set())

        name = cursor.keyword("a search key")
        return self.named_key(name, depth)

    def named_key(self, name: str, depth: int) -> SearchKey:
        cursor = self.cursor

        if name == "ALL":
            return AllKey()
        if name in _FLAG_KEYS:
            flag, present = _FLAG_KEYS[name]
            return FlagKey(flag, present)
        if name == "NEW":
            return AndKey((FlagKey("\\Recent"), FlagKey("\\Seen", present=False)))

        if name not in _KEYS_WITH_ARGUMENTS:
            raise cursor.error(f"unknown search key {name[:30]}")
        cursor.sp()

        if name in ("KEYWORD", "UNKEYWORD"):
            return FlagKey(cursor.atom("a keyword"), present=name == "KEYWORD")
        if name in _HEADER_KEYS:
            return HeaderKey(_HEADER_KEYS[name], self.search_string())
        if name == "HEADER":
            field = cursor.text(cursor.astring("a header field name"), "field name")
            cursor.sp()
            return HeaderKey(field, self.search_string())
        if name == "BODY":
            return BodyKey(self.search_string())
        if name == "TEXT":
            return TextKey(self.search_string())
        if name in _DATE_KEYS:
            comparison, sent = _DATE_KEYS[name]
            return DateKey(comparison, cursor.search_date(), sent=sent)
        if name == "LARGER":
            return SizeKey("larger", cursor.number())
        if name == "SMALLER":
            return SizeKey("smaller", cursor.number())
        if name == "UID":
            return SequenceKey(cursor.sequence_set(), uid=True)
        if name == "NOT":
            return NotKey(self.key(depth + 1))
        if name == "OR":
            left = self.key(depth + 1)
            cursor.sp()
            return OrKey(left, self.key(depth + 1))
        return ModSeqKey(self.modseq())

    def modseq(self) -> int:
        # The optional entry name and type (RFC 7162) only narrow a flag's
        # metadata entry; this server keeps one mod-sequence per message.
        cursor = self.cursor
        if cursor.peek() == ord('"'):
            cursor.string("an entry name")
            cursor.sp()
            entry_type = cursor.keyword("an entry type")
            if entry_type not in ("PRIV", "SHARED", "ALL"):
                raise cursor.error("MODSEQ entry type must be priv, shared or all")
            cursor.sp()
        return cursor.number(MAX_NUMBER64, "a mod-sequence")


def parse_search_criteria(cursor: Cursor, charset: str | None) -> SearchKey:
    """Read search keys up to the end of the command."""
    return _SearchParser(cursor, codec_for_charset(cursor, charset)).criteria()
