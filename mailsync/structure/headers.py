"""Header blocks: splitting them into fields, and BODY[HEADER.FIELDS (...)].

Messages are CRLF text. A header block runs up to and including the first
empty line; a message without one is all header. Inside a multipart body a
boundary line also ends the header block that is being read (the CRLF in
front of the boundary then belongs to the boundary, as in the body).
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

CRLF = b"\r\n"


@dataclass(frozen=True)
class HeaderField:
    """One header field and where its raw lines sit in the message.

    ``name`` has surrounding whitespace removed; ``value`` starts after the
    colon and the blanks that follow it, keeps the CRLF of folded lines and
    drops the final CRLF. A line without a colon is kept as a field whose
    name is the whole line; it has no value and matches no field name.
    """

    name: bytes
    value: bytes
    start: int
    end: int
    has_colon: bool = True

    @property
    def key(self) -> bytes:
        """The lower-case name to match on; empty for a line without colon."""
        return self.name.lower() if self.has_colon else b""


@dataclass(frozen=True)
class HeaderBlock:
    """A parsed header block.

    ``end`` is where the header octets stop and ``body_start`` where the
    body begins. They differ only when a boundary line cut the block short:
    the CRLF in front of the boundary then belongs to the boundary, and the
    part's (empty) body starts at the boundary line, ``boundary_line``.
    """

    fields: list[HeaderField]
    end: int
    body_start: int
    boundary_line: int | None = None
    ended_by_empty_line: bool = False


def parse_header_block(
    message: bytes,
    start: int,
    limit: int,
    is_boundary: Callable[[int, int], bool] | None = None,
) -> HeaderBlock:
    """Read the header block that starts at ``start``, up to ``limit``.

    ``is_boundary(line_start, line_end)`` tells whether a line is a
    boundary line; one ends the block.
    """
    fields: list[HeaderField] = []
    pending: tuple[int, int] | None = None
    position = start

    def finish(
        end: int, body_start: int, boundary: int | None, empty_line: bool = False
    ) -> HeaderBlock:
        if pending is not None:
            fields.append(_make_field(message, *pending))
        return HeaderBlock(fields, end, body_start, boundary, empty_line)

    while position < limit:
        next_line, content_end = line_at(message, position, limit)

        if is_boundary is not None and is_boundary(position, content_end):
            return finish(max(position - 2, start), position, position)

        if content_end == position:
            return finish(next_line, next_line, None, empty_line=True)

        if message[position] in (0x20, 0x09) and pending is not None:
            pending = (pending[0], next_line)
        else:
            if pending is not None:
                fields.append(_make_field(message, *pending))
            pending = (position, next_line)
        position = next_line

    return finish(limit, limit, None)


def line_at(message: bytes, position: int, limit: int) -> tuple[int, int]:
    """Return (start of the next line, end of this line's content)."""
    line_end = message.find(b"\n", position, limit)
    next_line = limit if line_end < 0 else line_end + 1
    return next_line, _content_end(message, position, next_line)


def _content_end(message: bytes, line_start: int, next_line: int) -> int:
    if next_line > line_start and message[next_line - 1] == 0x0A:
        next_line -= 1
        if next_line > line_start and message[next_line - 1] == 0x0D:
            next_line -= 1
    return next_line


def _make_field(message: bytes, start: int, end: int) -> HeaderField:
    raw = message[start:end]
    if raw.endswith(CRLF):
        raw = raw[:-2]
    elif raw.endswith(b"\n"):
        raw = raw[:-1]

    colon = raw.find(b":")
    first_line_end = raw.find(b"\n")
    if colon < 0 or (0 <= first_line_end < colon):
        return HeaderField(raw.strip(b" \t\r\n"), b"", start, end, has_colon=False)

    name = raw[:colon].strip(b" \t")
    value = raw[colon + 1 :]
    first_line = value.split(b"\r", 1)[0].split(b"\n", 1)[0]
    if first_line.strip(b" \t"):
        value = value.lstrip(b" \t")
    elif first_line:
        # A blank first line loses only its first blank (Dovecot's way).
        value = value[1:]
    return HeaderField(name, value, start, end)


def header_fields(
    header_block: bytes, names: Iterable[str | bytes], exclude: bool = False
) -> bytes:
    """Answer BODY[HEADER.FIELDS (names)] or, with ``exclude``, .NOT.

    Names match case-insensitively and fields keep their order and folding.
    The positive form copies the matching lines and adds an empty line; the
    negative form copies the other lines and keeps the block's own empty
    line only if it had one. (A last field without CRLF, in a header with
    no body, stays without one; Dovecot does the same once the fields are in
    its cache, though its very first answer adds the CRLF.)
    """
    wanted = {_as_key(name) for name in names}
    block = parse_header_block(header_block, 0, len(header_block))

    selected = bytearray()
    for field in block.fields:
        if (field.key in wanted) != exclude:
            selected += header_block[field.start : field.end]

    if not exclude:
        return bytes(selected) + CRLF

    last_field_end = block.fields[-1].end if block.fields else 0
    return bytes(selected) + header_block[last_field_end : block.end]


def _as_key(name: str | bytes) -> bytes:
    if isinstance(name, str):
        name = name.encode("utf-8")
    return name.strip().lower()


def first_value(fields: Iterable[HeaderField], key: bytes) -> bytes | None:
    for field in fields:
        if field.key == key:
            return field.value
    return None
