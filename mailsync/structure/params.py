"""MIME header values: Content-Type, Content-Disposition and friends.

Values keep the case and bytes they had in the message; IMAP clients get
them verbatim. Parameters are read the lenient way Dovecot reads them and
RFC 2231 continuations are joined (still encoded), after the plain ones.
"""

import logging
from dataclasses import dataclass, field

from mailsync.structure.headers import HeaderField
from mailsync.structure.rfc822 import END, ERROR, MIME_TOKEN, MORE, Scanner

logger = logging.getLogger(__name__)

Params = list[tuple[bytes, bytes]]

# Dovecot reads a parameter list in at most this many steps (see
# parse_params).
MAX_PARAM_STEPS = 128


@dataclass
class ContentType:
    """A parsed Content-Type; ``present`` is False when it was defaulted."""

    type: bytes
    subtype: bytes
    params: Params = field(default_factory=list)
    present: bool = True

    @classmethod
    def default(cls) -> "ContentType":
        return cls(b"text", b"plain", [], present=False)

    @classmethod
    def message_default(cls) -> "ContentType":
        return cls(b"message", b"rfc822", [], present=False)

    @property
    def type_key(self) -> bytes:
        return self.type.lower()

    @property
    def subtype_key(self) -> bytes:
        return self.subtype.lower()

    @property
    def is_multipart(self) -> bool:
        return self.type_key == b"multipart"

    @property
    def is_message_rfc822(self) -> bool:
        return self.type_key == b"message" and self.subtype_key == b"rfc822"

    @property
    def is_text(self) -> bool:
        return self.type_key == b"text"

    @property
    def boundary(self) -> bytes | None:
        if not self.is_multipart:
            return None
        value = param_value(self.params, b"boundary")
        return value or None


def param_value(params: Params, name: bytes) -> bytes | None:
    for key, value in params:
        if key.lower() == name:
            return value
    return None


def parse_content_type(fields: list[HeaderField], default: ContentType) -> ContentType:
    """Read the first Content-Type field, or return ``default``."""
    for header in fields:
        if header.key == b"content-type":
            return _parse_content_type_value(header.value)
    return ContentType(
        default.type, default.subtype, list(default.params), present=False
    )


def _parse_content_type_value(value: bytes) -> ContentType:
    invalid = ContentType(b"", b"", [])
    scanner = Scanner(value)
    if scanner.skip_cfws() <= 0:
        return invalid

    main_type = bytearray()
    result = scanner.mime_token(main_type)
    if result == ERROR:
        return invalid
    if result == END:
        return ContentType(bytes(main_type), b"", [])
    if not scanner.at(b"/"):
        return invalid

    scanner.pos += 1
    if scanner.skip_cfws() <= 0:
        return invalid
    subtype = bytearray()
    result = scanner.mime_token(subtype)
    if result == ERROR:
        return invalid
    if result == MORE and not scanner.at(b";"):
        return invalid

    return ContentType(bytes(main_type), bytes(subtype), parse_params(scanner))


def parse_params(scanner: Scanner) -> Params:
    """Read ``*(";" name "=" value)`` as forgivingly as Dovecot does.

    A step reads one parameter at a ";"; when that fails, the step skips one
    octet instead, so junk is passed over up to the next ";" (but a failure
    right at a ";" skips that ";" too). Reading stops at the end or after
    ``MAX_PARAM_STEPS`` steps. Names and values may be empty.
    """
    plain: Params = []
    extended: list[tuple[bytes, int, bool, bytes]] = []

    steps = 0
    while scanner.pos < scanner.end and steps < MAX_PARAM_STEPS:
        steps += 1
        found = _parse_param(scanner)
        if found is None:
            scanner.pos += 1
            continue

        key, value = found
        split = _split_rfc2231_key(key)
        if split is None:
            plain.append((key, value))
        else:
            extended.append((split[0], split[1], split[2], value))

    return plain + _join_rfc2231(extended)


def _parse_param(scanner: Scanner) -> tuple[bytes, bytes] | None:
    if not scanner.at(b";"):
        return None
    scanner.pos += 1
    if scanner.skip_cfws() <= 0:
        return None

    key = scanner.take(MIME_TOKEN)
    if scanner.skip_cfws() <= 0 or not scanner.at(b"="):
        return None
    scanner.pos += 1

    result = scanner.skip_cfws()
    value = bytearray()
    if result <= 0:
        # Nothing after "=": an empty value, unless a comment broke off.
        return (key, b"") if result == END else None
    if scanner.at(b'"'):
        result = scanner.quoted_string(value)
    elif scanner.at(b"="):
        # Broken senders write name==?utf-8?b?...?= unquoted; keep it whole.
        _take_until_separator(scanner, value)
    else:
        value += scanner.take(MIME_TOKEN)
        result = scanner.skip_cfws()
    return None if result < 0 else (key, bytes(value))


def _take_until_separator(scanner: Scanner, out: bytearray) -> None:
    while scanner.pos < scanner.end and scanner.data[scanner.pos] not in b"; \t\r\n":
        out.append(scanner.data[scanner.pos])
        scanner.pos += 1


def _split_rfc2231_key(key: bytes) -> tuple[bytes, int, bool] | None:
    """Split ``name*``, ``name*3`` or ``name*3*`` into (name, index, extended)."""
    star = key.find(b"*")
    if star < 0:
        return None

    rest = key[star + 1 :]
    digits = b""
    while rest[:1].isdigit():
        digits += rest[:1]
        rest = rest[1:]
    extended = rest == b"*"
    if rest not in (b"", b"*"):
        return None
    if not digits and not extended:
        # "name*" alone: an extended value without continuations.
        extended = True
    return key[:star], int(digits) if digits else 0, extended


def _join_rfc2231(extended: list[tuple[bytes, int, bool, bytes]]) -> Params:
    """Join RFC 2231 continuations; a broken series is listed piece by piece.

    Pieces are ordered by name as octets but grouped by name ignoring case,
    as Dovecot does. When the first piece is extended, a later plain piece
    has its "%" encoded so the joined value stays one encoded string.
    """
    joined: Params = []
    ordered = sorted(extended, key=lambda item: (item[0], item[1]))
    position = 0
    while position < len(ordered):
        name = ordered[position][0]
        group = []
        while position < len(ordered) and ordered[position][0].lower() == name.lower():
            group.append(ordered[position])
            position += 1

        if [index for _, index, _, _ in group] != list(range(len(group))):
            for piece_name, index, is_extended, value in group:
                suffix = b"*%d" % index + (b"*" if is_extended else b"")
                joined.append((piece_name + suffix, value))
            continue

        first_extended = group[0][2]
        value = bytearray()
        for _, _, is_extended, segment in group:
            if first_extended and not is_extended:
                segment = segment.replace(b"%", b"%25")
            value += segment
        joined.append((name + b"*" if first_extended else name, bytes(value)))
    return joined


def parse_transfer_encoding(fields: list[HeaderField]) -> bytes | None:
    """The first Content-Transfer-Encoding that is a single token, if any."""
    for header in fields:
        if header.key != b"content-transfer-encoding":
            continue
        scanner = Scanner(header.value)
        if scanner.skip_cfws() <= 0:
            continue
        token = bytearray()
        if scanner.mime_token(token) == END:
            return bytes(token)
    return None


@dataclass
class Disposition:
    type: bytes
    params: Params


def parse_disposition(value: bytes) -> Disposition:
    scanner = Scanner(value)
    kind = bytearray()
    if scanner.skip_cfws() > 0:
        if scanner.mime_token(kind) < 0:
            kind.clear()
    return Disposition(bytes(kind), parse_params(scanner))


def parse_languages(value: bytes) -> list[bytes]:
    """Read a Content-Language list: tokens separated by commas."""
    scanner = Scanner(value)
    languages: list[bytes] = []
    result = scanner.skip_cfws()
    while result > 0:
        language = bytearray()
        result = scanner.mime_token(language)
        if result < 0:
            break
        languages.append(bytes(language))
        if result == END or not scanner.at(b","):
            break
        scanner.pos += 1
        result = scanner.skip_cfws()
    return languages
