"""FETCH attributes (RFC 3501 §6.4.5), including BODY[section]<partial>."""

import logging
import re
from dataclasses import dataclass

from protocols.imap import wire
from protocols.imap.lexer import Cursor

logger = logging.getLogger(__name__)

SIMPLE_ATTRIBUTES = frozenset(
    {
        "BODY",
        "BODYSTRUCTURE",
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "MODSEQ",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.SIZE",
        "RFC822.TEXT",
        "UID",
    }
)
SECTION_TEXTS = frozenset(
    {"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "MIME", "TEXT"}
)
# Attributes that set \Seen when fetched (RFC 3501 §6.4.5).
_SETS_SEEN = frozenset({"RFC822", "RFC822.TEXT"})

_ATT_NAME = re.compile(rb"[A-Za-z0-9.]+")
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")
MAX_PART_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Partial:
    """``<start.length>``: the reply carries at most `length` octets."""

    start: int
    length: int


@dataclass(frozen=True, slots=True)
class BodySection:
    """The part of a message named inside ``BODY[...]``.

    `part` is the MIME part path, () for the whole message. `text` is None,
    HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, MIME or TEXT. `header_fields`
    keep the client's spelling so the reply can echo them.
    """

    part: tuple[int, ...] = ()
    text: str | None = None
    header_fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        pieces = [str(number) for number in self.part]
        if self.text:
            pieces.append(self.text)
        spec = ".".join(pieces)

        if self.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            fields = b" ".join(wire.encode_astring(name) for name in self.header_fields)
            spec += " (" + fields.decode("ascii") + ")"
        return spec


@dataclass(frozen=True, slots=True)
class FetchAttribute:
    """One item of a FETCH request.

    BODY with a section is ``BODY[...]``; without one it is the short body
    structure. BODY.PEEK is BODY with `peek` set.
    """

    name: str
    section: BodySection | None = None
    partial: Partial | None = None
    peek: bool = False

    @property
    def sets_seen(self) -> bool:
        """True when fetching this marks the message \\Seen."""
        if self.section is not None:
            return not self.peek
        return self.name in _SETS_SEEN

    def response_name(self) -> str:
        """Return the name the FETCH reply uses, e.g. ``BODY[TEXT]<0>``."""
        if self.section is None:
            return self.name

        name = f"{self.name}[{self.section}]"
        if self.partial is not None:
            name += f"<{self.partial.start}>"
        return name


MACROS = {
    "FAST": (
        FetchAttribute("FLAGS"),
        FetchAttribute("INTERNALDATE"),
        FetchAttribute("RFC822.SIZE"),
    ),
    "ALL": (
        FetchAttribute("FLAGS"),
        FetchAttribute("INTERNALDATE"),
        FetchAttribute("RFC822.SIZE"),
        FetchAttribute("ENVELOPE"),
    ),
    "FULL": (
        FetchAttribute("FLAGS"),
        FetchAttribute("INTERNALDATE"),
        FetchAttribute("RFC822.SIZE"),
        FetchAttribute("ENVELOPE"),
        FetchAttribute("BODY"),
    ),
}


def parse_fetch_attributes(cursor: Cursor) -> tuple[FetchAttribute, ...]:
    """Read a macro, one attribute, or a parenthesised list of attributes."""
    if cursor.accept(b"("):
        if cursor.peek() == ord(")"):
            raise cursor.error("empty FETCH attribute list")
        attributes = [_attribute(cursor)]
        while not cursor.end_of_list():
            attributes.append(_attribute(cursor))
        return tuple(attributes)

    token = cursor.match(_ATT_NAME)
    if token is not None and token.upper().decode() in MACROS:
        return MACROS[token.upper().decode()]
    if token is not None:
        # Not a macro: push the name back by re-reading it as an attribute.
        return (_attribute(cursor, token),)
    raise cursor.fail_expected("FETCH attributes")


def _attribute(cursor: Cursor, token: bytes | None = None) -> FetchAttribute:
    if token is None:
        token = cursor.match(_ATT_NAME)
    if token is None:
        raise cursor.fail_expected("a FETCH attribute")
    name = token.decode("ascii").upper()

    if name in ("BODY", "BODY.PEEK") and cursor.accept(b"["):
        section = _section(cursor)
        partial = _partial(cursor) if cursor.accept(b"<") else None
        return FetchAttribute("BODY", section, partial, peek=name == "BODY.PEEK")

    if name in SIMPLE_ATTRIBUTES:
        return FetchAttribute(name)
    if name == "BODY.PEEK":
        raise cursor.fail_expected("'[' after BODY.PEEK")
    if name in MACROS:
        raise cursor.error(f"the {name} macro cannot appear inside a list")
    raise cursor.error(f"unknown FETCH attribute {name[:30]}")


def _section(cursor: Cursor) -> BodySection:
    if cursor.accept(b"]"):
        return BodySection()

    token = cursor.match(_ATT_NAME)
    if token is None:
        raise cursor.fail_expected("a section")

    pieces = token.decode("ascii").upper().split(".")
    if "" in pieces:
        raise cursor.error(f"invalid section {token.decode('ascii')[:40]}")

    part: list[int] = []
    while pieces and pieces[0].isdigit():
        number = pieces.pop(0)
        if number.startswith("0") or len(number) > 10:
            raise cursor.error(f"invalid part number {number[:12]} in section")
        part.append(int(number))

    if len(part) > MAX_PART_DEPTH:
        raise cursor.error("section part path is too deep")

    text = ".".join(pieces) or None
    if text is not None and text not in SECTION_TEXTS:
        raise cursor.error(f"invalid section {token.decode('ascii')[:40]}")
    if text == "MIME" and not part:
        raise cursor.error("MIME needs a part number, as in 1.MIME")

    fields: tuple[str, ...] = ()
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        cursor.sp()
        fields = _header_list(cursor)

    cursor.expect(b"]", "']' to close the section")
    return BodySection(tuple(part), text, fields)


def _header_list(cursor: Cursor) -> tuple[str, ...]:
    cursor.begin_list("a header field list")
    if cursor.peek() == ord(")"):
        raise cursor.error("empty header field list")

    fields = []
    while True:
        raw = cursor.astring("a header field name")
        if _FIELD_NAME.fullmatch(raw) is None:
            raise cursor.error("invalid header field name")
        fields.append(raw.decode("ascii"))
        if cursor.end_of_list():
            return tuple(fields)


def _partial(cursor: Cursor) -> Partial:
    start = cursor.number(what="a partial start")
    cursor.expect(b".", "'.' in partial range")
    length = cursor.nz_number("a partial length")
    cursor.expect(b">", "'>' to close the partial range")
    return Partial(start, length)
