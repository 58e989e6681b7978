"""The MIME tree of a CRLF message, with the octet offsets of every part.

Parsing follows what Dovecot's message parser does with real, often broken
mail, because clients fetch parts by the sizes in BODYSTRUCTURE:

- A boundary line is any line that starts with ``--`` and an active
  boundary; the longest matching boundary wins (the innermost on a tie), and
  anything after it on the line is ignored. ``--boundary--`` closes.
- The CRLF before a boundary line belongs to the boundary, not to the part
  that ends there. A boundary line also ends a header block early.
- Outer boundaries end inner parts; a missing closing boundary just runs to
  the end of the message.
- message/rfc822 bodies are parsed as messages, whatever their encoding.
- Children of multipart/digest default to message/rfc822.
"""

import logging
from dataclasses import dataclass, field

from mailsync.structure.headers import HeaderField, line_at, parse_header_block
from mailsync.structure.params import ContentType, parse_content_type

logger = logging.getLogger(__name__)

# Guards against hostile nesting; Dovecot has similar limits.
MAX_NESTING = 100
MAX_PARTS = 10000


@dataclass
class Part:
    """One MIME entity: header lines, body octets, and its children.

    ``header_end`` equals ``body_start`` unless a boundary line cut the
    header short (see headers.HeaderBlock).
    """

    header_start: int
    header_end: int
    body_start: int
    body_end: int
    fields: list[HeaderField]
    content_type: ContentType
    children: list["Part"] = field(default_factory=list)
    # The encapsulated message of a parsed message/rfc822 part.
    message: "Part | None" = None
    # The top of a message (the whole message, or a message/rfc822 body).
    is_message_root: bool = False

    @property
    def is_multipart(self) -> bool:
        return self.content_type.is_multipart

    @property
    def is_message(self) -> bool:
        return self.content_type.is_message_rfc822


@dataclass
class _Stop:
    """A boundary line that ended one or more parts.

    ``end`` is where those parts end: before the CRLF in front of the line
    when that CRLF lies in the stretch being scanned, else at the line.
    """

    line_start: int
    line_end: int
    level: int
    closing: bool
    end: int
    # A last line without a line break opens no new part.
    has_line_break: bool = True

    def opens_part(self, level: int) -> bool:
        return self.level == level and not self.closing and self.has_line_break


class _Parser:
    def __init__(self, message: bytes) -> None:
        self.message = message
        self.part_count = 0

    def boundary_at(
        self, line_start: int, line_end: int, boundaries: list[bytes]
    ) -> tuple[int, bool] | None:
        """Return (level, closing) if the line is a boundary line."""
        message = self.message
        if line_end - line_start < 2 or message[line_start] != 0x2D:
            return None
        if message[line_start + 1] != 0x2D:
            return None

        best_level = -1
        best_length = -1
        text_start = line_start + 2
        for level in range(len(boundaries) - 1, -1, -1):
            boundary = boundaries[level]
            if len(boundary) <= best_length:
                continue
            if line_end - text_start < len(boundary):
                continue
            if message.startswith(boundary, text_start):
                best_level, best_length = level, len(boundary)
        if best_level < 0:
            return None

        after = text_start + best_length
        closing = message.startswith(b"--", after) and after + 2 <= line_end
        return best_level, closing

    def find_boundary(
        self, region_start: int, limit: int, boundaries: list[bytes]
    ) -> _Stop | None:
        """Find the first boundary line of the stretch at ``region_start``."""
        if not boundaries:
            return None
        message = self.message
        position = region_start
        while position < limit:
            if message.startswith(b"--", position):
                next_line, line_end = line_at(message, position, limit)
                found = self.boundary_at(position, line_end, boundaries)
                if found is not None:
                    end = max(region_start, position - 2)
                    has_line_break = message[next_line - 1] == 0x0A
                    return _Stop(
                        position, next_line, found[0], found[1], end, has_line_break
                    )
            # Only lines that start with "--" can be boundary lines.
            dashes = message.find(b"\n--", position, limit)
            if dashes < 0:
                return None
            position = dashes + 1
        return None

    def parse_part(
        self,
        start: int,
        limit: int,
        boundaries: list[bytes],
        default_type: ContentType,
        depth: int,
        is_message_root: bool = False,
    ) -> tuple[Part, _Stop | None]:
        self.part_count += 1

        def is_boundary(line_start: int, line_end: int) -> bool:
            return self.boundary_at(line_start, line_end, boundaries) is not None

        header = parse_header_block(
            self.message, start, limit, is_boundary if boundaries else None
        )
        content_type = parse_content_type(header.fields, default_type)
        part = Part(
            start,
            header.end,
            header.body_start,
            header.body_start,
            header.fields,
            content_type,
        )
        part.is_message_root = is_message_root

        if header.boundary_line is not None:
            # A boundary line cut the header short: no body, and the parts
            # that end here end at the boundary line itself.
            stop = self.find_boundary(header.boundary_line, limit, boundaries)
            assert stop is not None
            return part, stop

        too_deep = depth >= MAX_NESTING or self.part_count >= MAX_PARTS
        if header.ended_by_empty_line and self._outer_boundary_follows(
            part, limit, boundaries, too_deep
        ):
            # The empty line was the CRLF in front of an outer boundary: it
            # leaves the header, and the part ends at that boundary.
            part.header_end = max(part.body_start - 2, start)
            stop = self.find_boundary(part.body_start, limit, boundaries)
            assert stop is not None
            return part, stop

        if content_type.boundary is not None and not too_deep:
            return part, self._parse_multipart(part, limit, boundaries, depth)
        if content_type.is_message_rfc822 and not too_deep:
            return part, self._parse_message(part, limit, boundaries, depth)
        return part, self._parse_leaf(part, limit, boundaries)

    def _outer_boundary_follows(
        self, part: Part, limit: int, boundaries: list[bytes], too_deep: bool
    ) -> bool:
        if not boundaries or part.body_start >= limit:
            return False
        own = None if too_deep else part.content_type.boundary
        candidates = boundaries + [own] if own is not None else boundaries
        line_end = line_at(self.message, part.body_start, limit)[1]
        found = self.boundary_at(part.body_start, line_end, candidates)
        return found is not None and found[0] < len(boundaries)

    def _end_at(self, part: Part, stop: _Stop | None, limit: int) -> None:
        part.body_end = limit if stop is None else stop.end

    def _parse_leaf(
        self, part: Part, limit: int, boundaries: list[bytes]
    ) -> _Stop | None:
        stop = self.find_boundary(part.body_start, limit, boundaries)
        self._end_at(part, stop, limit)
        return stop

    def _parse_message(
        self, part: Part, limit: int, boundaries: list[bytes], depth: int
    ) -> _Stop | None:
        inner, stop = self.parse_part(
            part.body_start,
            limit,
            boundaries,
            ContentType.default(),
            depth + 1,
            is_message_root=True,
        )
        part.message = inner
        part.body_end = inner.body_end
        return stop

    def _parse_multipart(
        self, part: Part, limit: int, boundaries: list[bytes], depth: int
    ) -> _Stop | None:
        boundary = part.content_type.boundary
        assert boundary is not None
        inner_boundaries = boundaries + [boundary]
        level = len(boundaries)
        child_default = (
            ContentType.message_default()
            if part.content_type.subtype_key == b"digest"
            else ContentType.default()
        )

        stop = self.find_boundary(part.body_start, limit, inner_boundaries)
        while stop is not None and stop.opens_part(level):
            if self.part_count >= MAX_PARTS:
                # Too many parts: the rest of this multipart stays unparsed.
                stop = self.find_boundary(stop.line_end, limit, boundaries)
                break
            child, stop = self.parse_part(
                stop.line_end, limit, inner_boundaries, child_default, depth + 1
            )
            part.children.append(child)

        if stop is not None and stop.level == level:
            # Closed: the epilogue runs to the next outer boundary.
            stop = self.find_boundary(stop.line_end, limit, boundaries)

        self._end_at(part, stop, limit)
        return stop


def parse_message(message: bytes) -> Part:
    """Parse a whole CRLF message into its part tree."""
    parser = _Parser(message)
    root, _ = parser.parse_part(
        0, len(message), [], ContentType.default(), 0, is_message_root=True
    )
    return root
