"""Decoded text for IMAP SEARCH: header fields and the text of text/* parts.

SEARCH compares human text, so here encoded words are decoded, transfer
encodings undone and charsets converted; nothing in this module has to
match another server byte for byte. Bodies are capped so one huge message
cannot bloat the index.
"""

import base64
import binascii
import email.utils
import html
import logging
import quopri
import re
from datetime import UTC, datetime

from mailsync.structure.envelope import (
    INVALID_ROUTE,
    MISSING_DOMAIN,
    MISSING_MAILBOX,
    SYNTAX_ERROR,
    Address,
)
from mailsync.structure.headers import HeaderField
from mailsync.structure.mime import Part
from mailsync.structure.params import param_value, parse_transfer_encoding

logger = logging.getLogger(__name__)

PLACEHOLDERS = (MISSING_MAILBOX, MISSING_DOMAIN, SYNTAX_ERROR, INVALID_ROUTE)
MAX_SEARCH_TEXT_CHARS = 256 * 1024
MAX_HEADER_TEXT_CHARS = 64 * 1024

_TAG = re.compile(r"<[^>]*>")
_HIDDEN_HTML = re.compile(r"(?is)<(script|style)\b.*?</\1\s*>")
_WHITESPACE_RUN = re.compile(r"[ \t]+")
_FOLDING = re.compile(rb"\r?\n[ \t]*")
_ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def bytes_to_text(raw: bytes, charset: str | None = None) -> str:
    """Decode octets with a declared charset, else UTF-8, else Latin-1."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return raw.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("latin-1")


def unfold(value: bytes) -> bytes:
    return _FOLDING.sub(b" ", value).strip()


def decode_header_value(value: bytes | None) -> str:
    """Unfold a raw header value and decode its RFC 2047 encoded words.

    A word that does not decode stays as it is; blanks between two decoded
    words go (RFC 2047 section 6.2).
    """
    if value is None:
        return ""
    raw = unfold(value)

    pieces = []
    position = 0
    after_word = False
    for word in _ENCODED_WORD.finditer(raw):
        between = raw[position : word.start()]
        decoded = _decode_word(word)
        if decoded is None:
            pieces.append(bytes_to_text(between + word.group(0)))
            after_word = False
        else:
            if not (after_word and not between.strip(b" \t")):
                pieces.append(bytes_to_text(between))
            pieces.append(decoded)
            after_word = True
        position = word.end()
    pieces.append(bytes_to_text(raw[position:]))
    return "".join(pieces)


def _decode_word(word: re.Match) -> str | None:
    charset = word.group(1).split(b"*", 1)[0].decode("ascii", "replace")
    encoded = word.group(3)
    try:
        if word.group(2) in b"bB":
            octets = _decode_base64(encoded)
        else:
            octets = binascii.a2b_qp(encoded.replace(b"_", b" "))
    except (ValueError, binascii.Error):
        return None
    return bytes_to_text(octets, charset)


def format_addresses(addresses: list[Address]) -> str:
    """Addresses as 'Name <mailbox@domain>' text, names decoded.

    The ENVELOPE placeholders for missing halves are left out, so SEARCH
    does not match them.
    """
    written = []
    for address in addresses:
        if address.is_group_marker:
            continue
        spec = "@".join(
            bytes_to_text(half)
            for half in (address.mailbox, address.domain)
            if half and half not in PLACEHOLDERS
        )
        name = decode_header_value(address.name) if address.name else ""
        if name and spec:
            written.append(f"{name} <{spec}>")
        elif name or spec:
            written.append(name or spec)
    return ", ".join(written)


def parse_date(value: bytes | None) -> datetime | None:
    """The Date field as an aware datetime (UTC when no zone), or None."""
    if value is None:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(bytes_to_text(unfold(value)))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def header_text(fields: list[HeaderField]) -> str:
    """Every field as one decoded 'Name: value' line, for HEADER searches."""
    lines = []
    for field in fields:
        name = bytes_to_text(field.name)
        lines.append(f"{name}: {decode_header_value(field.value)}")
    return "\n".join(lines)[:MAX_HEADER_TEXT_CHARS]


def body_text(message: bytes, root: Part) -> str:
    """Decoded text of every text/* part, in order, capped in length."""
    collected: list[str] = []
    remaining = MAX_SEARCH_TEXT_CHARS
    for part in _text_parts(root):
        if remaining <= 0:
            break
        text = _part_text(message, part)[:remaining]
        collected.append(text)
        remaining -= len(text)
    return "\n".join(collected)


def _text_parts(part: Part):
    if part.children:
        for child in part.children:
            yield from _text_parts(child)
    elif part.message is not None:
        yield from _text_parts(part.message)
    elif part.content_type.is_text:
        yield part


def _decode_base64(raw: bytes) -> bytes:
    alphabet_only = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
    if len(alphabet_only) % 4 == 1:
        # One character left over carries too few bits for an octet.
        alphabet_only = alphabet_only[:-1]
    return base64.b64decode(alphabet_only + b"=" * (-len(alphabet_only) % 4))


def _part_text(message: bytes, part: Part) -> str:
    raw = message[part.body_start : part.body_end]
    encoding = (parse_transfer_encoding(part.fields) or b"").lower()
    try:
        if encoding == b"base64":
            raw = _decode_base64(raw)
        elif encoding == b"quoted-printable":
            raw = quopri.decodestring(raw)
    except (ValueError, binascii.Error):
        logger.debug("Undecodable %s body part; searching its raw octets", encoding)

    charset = param_value(part.content_type.params, b"charset")
    text = bytes_to_text(raw, charset.decode("ascii", "replace") if charset else None)
    if part.content_type.subtype_key == b"html":
        text = html.unescape(_TAG.sub(" ", _HIDDEN_HTML.sub(" ", text)))
        text = _WHITESPACE_RUN.sub(" ", text)
    return text
