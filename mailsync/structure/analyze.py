"""Everything IMAP needs from one message, computed once.

``analyze`` runs at sync time; FETCH then serves ENVELOPE, BODYSTRUCTURE and
BODY from the stored bytes and any BODY[section] by slicing the message with
the stored part offsets (``slice_section``).
"""

import logging
import re
from dataclasses import asdict, dataclass
from datetime import datetime

from mailsync.structure import bodystructure as structure
from mailsync.structure import search_text
from mailsync.structure.envelope import collect_fields, write_envelope
from mailsync.structure.headers import header_fields, parse_header_block
from mailsync.structure.mime import Part, parse_message
from mailsync.structure.params import ContentType

logger = logging.getLogger(__name__)

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_SECTION = re.compile(
    r"^(?P<path>\d+(?:\.\d+)*)?\.?"
    r"(?P<text>HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?"
    r"\s*(?P<names>\(.*\))?$",
    re.IGNORECASE | re.DOTALL,
)

# A part's offsets: [header_start, header_end, body_start, body_end], and for
# message/rfc822 parts also [.., encapsulated header_end, encapsulated
# body_start] (the encapsulated message starts at body_start and ends at
# body_end). header_end and body_start differ only when a boundary line cut
# the header short.
PartOffsets = list[int]


class SectionError(ValueError):
    """A BODY[section] spec that names nothing that can exist."""


@dataclass
class MessageAnalysis:
    """What FETCH and SEARCH need, serialisable as stored.

    ``parts`` maps IMAP section paths ("" for the whole message, "1",
    "1.2", ...) to offsets, see ``PartOffsets``; it is JSON-ready. The
    ``*_text`` and address fields are decoded for SEARCH.
    """

    size: int
    envelope: bytes
    bodystructure: bytes
    body: bytes
    parts: dict[str, PartOffsets]
    header_end: int
    subject: str
    from_text: str
    to_text: str
    cc_text: str
    bcc_text: str
    date: datetime | None
    message_id: str
    in_reply_to: str
    header_text: str
    search_text: str

    def search_fields(self) -> dict:
        """The SEARCH fields as a JSON-ready dict (date in ISO 8601)."""
        fields = asdict(self)
        for binary in ("envelope", "bodystructure", "body", "parts", "size"):
            fields.pop(binary)
        fields["date"] = self.date.isoformat() if self.date else None
        return fields


def normalize_crlf(raw: bytes) -> bytes:
    """Turn bare LF and bare CR into CRLF, as IMAP clients will see it.

    NUL octets become 0x80 too: IMAP literals cannot carry NUL, and Dovecot
    makes the same swap when it serves such a message.
    """
    return _LINE_BREAK.sub(b"\r\n", raw).replace(b"\x00", b"\x80")


def analyze(message: bytes) -> MessageAnalysis:
    """Analyse a CRLF message (see ``normalize_crlf``)."""
    root = parse_message(message)
    fields = collect_fields(root.fields)

    return MessageAnalysis(
        size=len(message),
        envelope=write_envelope(fields),
        bodystructure=structure.bodystructure(message, root),
        body=structure.body(message, root),
        parts=part_offsets(message, root),
        header_end=root.header_end,
        subject=search_text.decode_header_value(fields.subject),
        from_text=search_text.format_addresses(fields.address_list(b"from")),
        to_text=search_text.format_addresses(fields.address_list(b"to")),
        cc_text=search_text.format_addresses(fields.address_list(b"cc")),
        bcc_text=search_text.format_addresses(fields.address_list(b"bcc")),
        date=search_text.parse_date(fields.date),
        message_id=search_text.unfold(fields.message_id or b"").decode(
            "utf-8", "replace"
        ),
        in_reply_to=search_text.unfold(fields.in_reply_to or b"").decode(
            "utf-8", "replace"
        ),
        header_text=search_text.header_text(root.fields),
        search_text=search_text.body_text(message, root),
    )


def part_offsets(message: bytes, root: Part) -> dict[str, PartOffsets]:
    """Number the parts the IMAP way and record their offsets."""
    offsets: dict[str, PartOffsets] = {"": _offsets(message, root)}
    if root.is_multipart:
        _number_children(message, root, "", offsets)
    else:
        _number(message, root, "1", offsets)
    return offsets


def _offsets(message: bytes, part: Part) -> PartOffsets:
    entry = [part.header_start, part.header_end, part.body_start, part.body_end]
    if part.is_message:
        inner = _encapsulated(message, part)
        entry += [inner.header_end, inner.body_start]
    return entry


def _encapsulated(message: bytes, part: Part) -> Part:
    if part.message is not None:
        return part.message
    # A message/rfc822 part whose own header a boundary cut short has an
    # empty body; it still answers .HEADER and .1.MIME (emptily).
    block = parse_header_block(message, part.body_start, part.body_end)
    return Part(
        part.body_start,
        block.end,
        block.body_start,
        part.body_end,
        block.fields,
        ContentType.default(),
    )


def _number(message: bytes, part: Part, path: str, offsets: dict) -> None:
    offsets[path] = _offsets(message, part)
    if part.is_multipart:
        _number_children(message, part, path, offsets)
    elif part.is_message:
        inner = _encapsulated(message, part)
        if inner.is_multipart:
            _number_children(message, inner, path, offsets)
        else:
            _number(message, inner, f"{path}.1", offsets)


def _number_children(message: bytes, part: Part, path: str, offsets: dict) -> None:
    for index, child in enumerate(part.children, start=1):
        child_path = f"{path}.{index}" if path else str(index)
        _number(message, child, child_path, offsets)
        if not child.is_multipart and not child.is_message:
            # Dovecot also answers n.1 for a single part inside a multipart.
            offsets[f"{child_path}.1"] = offsets[child_path]


def slice_section(message: bytes, parts: dict[str, PartOffsets], section: str) -> bytes:
    """Return the octets of BODY[section] (without any <partial> range).

    ``section`` is the text inside the brackets: "", "HEADER", "TEXT",
    "2.1", "2.MIME", "3.HEADER.FIELDS (From To)" and so on. A part that
    does not exist yields empty octets, as Dovecot answers.
    """
    match = _SECTION.match(section.strip())
    if match is None:
        raise SectionError(f"unsupported section {section!r}")
    path = match.group("path") or ""
    text = (match.group("text") or "").upper()
    names = match.group("names")
    if text.startswith("HEADER.FIELDS") != (names is not None):
        raise SectionError(f"unsupported section {section!r}")
    if text == "MIME" and not path:
        raise SectionError("MIME needs a part number")

    entry = parts.get(path)
    if entry is None:
        return b""
    header_start, header_end, body_start, body_end = entry[:4]

    if not text:
        return message[body_start:body_end] if path else message
    if text == "MIME":
        return message[header_start:header_end]

    if path:
        # HEADER and TEXT of a part address its encapsulated message.
        if len(entry) < 6:
            return b""
        header_start, header_end, body_start = body_start, entry[4], entry[5]
    if text == "TEXT":
        return message[body_start:body_end]

    header = message[header_start:header_end]
    if text == "HEADER":
        return header
    return header_fields(header, _field_names(names), exclude=text.endswith("NOT"))


def _field_names(names: str) -> list[str]:
    return [name.strip('"') for name in names.strip("()").split()]
