"""A lenient RFC 5322 / RFC 2045 token scanner over one header value.

The scanner follows the forgiving reading that IMAP servers apply to real
mail: obsolete syntax is accepted, 8-bit octets count as atom text, and
folding whitespace and comments may appear between any two tokens. Methods
return ``1`` when input remains after the token, ``0`` at the end of the
input and ``-1`` on a syntax error, so callers can mirror a reference
server's control flow exactly.
"""

import logging

logger = logging.getLogger(__name__)

MORE = 1
END = 0
ERROR = -1

WHITESPACE = frozenset(b" \t\r\n")
_ATOM_SPECIALS = frozenset(b'()<>[]:;@\\,."')
# RFC 5322 atext, extended with every 8-bit octet.
ATEXT = frozenset(
    octet
    for octet in range(256)
    if octet >= 0x80 or (0x20 < octet < 0x7F and octet not in _ATOM_SPECIALS)
)
ATEXT_OR_DOT = ATEXT | {0x2E}
# RFC 2045 token characters, again extended with 8-bit octets.
_TSPECIALS = frozenset(b'()<>@,;:\\"/[]?=')
MIME_TOKEN = frozenset(
    octet
    for octet in range(256)
    if octet >= 0x80 or (0x20 < octet < 0x7F and octet not in _TSPECIALS)
)


class Scanner:
    """A cursor over one unfolded or folded header value."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.last_comment = bytearray()

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < self.end else None

    def at(self, char: bytes) -> bool:
        return self.pos < self.end and self.data[self.pos] == char[0]

    def skip_cfws(self) -> int:
        """Skip whitespace and comments; remember the last comment's text."""
        while self.pos < self.end:
            octet = self.data[self.pos]
            if octet in WHITESPACE:
                self.pos += 1
            elif octet == 0x28:
                if not self._skip_comment():
                    return ERROR
            else:
                return MORE
        return END

    def _skip_comment(self) -> bool:
        # Of an unterminated comment only the text before its last escape or
        # line break is kept, as much as a reference server keeps.
        self.last_comment.clear()
        depth = 0
        flushed = 0
        while self.pos < self.end:
            octet = self.data[self.pos]
            self.pos += 1
            if octet == 0x28:
                depth += 1
                if depth == 1:
                    continue
            elif octet == 0x29:
                depth -= 1
                if depth == 0:
                    return True
            elif octet == 0x5C:
                if self.pos >= self.end:
                    break
                flushed = len(self.last_comment)
                if self._escapes_next():
                    octet = self.data[self.pos]
                    self.pos += 1
            elif octet in (0x0D, 0x0A):
                if self._counts_as_break(octet):
                    flushed = len(self.last_comment)
                continue
            self.last_comment.append(octet)
        del self.last_comment[flushed:]
        return False

    def _escapes_next(self) -> bool:
        # Called just past a backslash that is not the last octet. It quotes
        # the next octet unless that is CR, LF or NUL; then the backslash
        # stands for itself.
        return self.data[self.pos] not in (0x0D, 0x0A, 0x00)

    def _counts_as_break(self, octet: int) -> bool:
        # Called just past ``octet``. A line break keeps the text before it
        # only when at least two octets follow it, as a reference server
        # does (a last folded line of one blank does not count).
        return octet == 0x0A and self.end - self.pos >= 2

    def take(self, allowed: frozenset[int]) -> bytes:
        """Consume and return the run of ``allowed`` octets at the cursor."""
        start = self.pos
        while self.pos < self.end and self.data[self.pos] in allowed:
            self.pos += 1
        return self.data[start : self.pos]

    def mime_token(self, out: bytearray) -> int:
        if self.peek() not in MIME_TOKEN:
            return ERROR
        out += self.take(MIME_TOKEN)
        return self.skip_cfws()

    def dot_atom(self, out: bytearray) -> int:
        """Read a strict ``atom *("." atom)``, CFWS allowed around dots."""
        if self.peek() not in ATEXT:
            return ERROR
        while True:
            out += self.take(ATEXT)
            result = self.skip_cfws()
            if result <= 0 or not self.at(b"."):
                return result
            self.pos += 1
            out.append(0x2E)
            result = self.skip_cfws()
            if result <= 0 or self.peek() not in ATEXT:
                return ERROR

    def local_part(self, out: bytearray) -> int:
        """Read an unquoted local-part: atom text with dots anywhere.

        A local-part may end in a dot only right before its "@" or at the
        very end (real addresses such as "name.@example.jp" exist), and no
        blank may follow a dot; otherwise it is an error and the cursor
        stays after the dot.
        """
        if self.peek() not in ATEXT and not self.at(b"."):
            return ERROR
        while True:
            out += self.take(ATEXT_OR_DOT)
            after_dot = self.pos
            comment = bytes(self.last_comment)
            result = self.skip_cfws()
            if out.endswith(b"."):
                blanks = self.pos != after_dot
                if blanks or (result > 0 and not self.at(b"@")):
                    self.pos = after_dot
                    self.last_comment[:] = comment
                    return ERROR
            if result <= 0 or not self.at(b"."):
                return result

    def quoted_string(self, out: bytearray) -> int:
        """Read a quoted string into ``out`` without quotes, escapes or CRLF.

        Of an unterminated string only the text before its last escape or
        line break is kept (that is how much a reference server keeps).
        """
        self.pos += 1
        flushed = len(out)
        while self.pos < self.end:
            octet = self.data[self.pos]
            self.pos += 1
            if octet == 0x22:
                return self.skip_cfws()
            if octet == 0x5C:
                if self.pos >= self.end:
                    break
                flushed = len(out)
                if self._escapes_next():
                    octet = self.data[self.pos]
                    self.pos += 1
            elif octet in (0x0D, 0x0A):
                if self._counts_as_break(octet):
                    flushed = len(out)
                continue
            out.append(octet)
        del out[flushed:]
        return ERROR

    def atom_or_dots(self, out: bytearray) -> int:
        out += self.take(ATEXT_OR_DOT)
        return self.skip_cfws()

    def phrase(self, out: bytearray, leading_dot: bool = False) -> int:
        """Read a display name: words (atoms, dots, quoted strings) joined
        by single spaces. Only ``leading_dot`` lets it start with a dot."""
        if self.pos >= self.end:
            return END
        if self.at(b".") and not leading_dot:
            return ERROR
        while True:
            if self.at(b'"'):
                result = self.quoted_string(out)
            else:
                result = self.atom_or_dots(out)
            if result <= 0:
                return result
            following = self.peek()
            if following not in ATEXT and following not in (0x22, 0x2E):
                return self.skip_cfws()
            out.append(0x20)

    def domain(self, out: bytearray) -> int:
        """Read the domain after an ``@`` (a dot-atom or a domain literal)."""
        self.pos += 1
        result = self.skip_cfws()
        if result <= 0:
            return ERROR if result < 0 else END
        if self.at(b"["):
            return self.domain_literal(out)
        return self.dot_atom(out)

    def domain_literal(self, out: bytearray) -> int:
        """Read ``[...]`` whole; a second "[" inside is an error."""
        start = self.pos
        self.pos += 1
        while self.pos < self.end:
            octet = self.data[self.pos]
            self.pos += 1
            if octet == 0x5C and self.pos < self.end:
                self.pos += 1
            elif octet == 0x5B:
                return ERROR
            elif octet == 0x5D:
                raw = self.data[start : self.pos]
                out += raw.replace(b"\r", b"").replace(b"\n", b"")
                return self.skip_cfws()
        return ERROR
