"""Build the RFC 822 message the IMAP server serves from a provider message.

The provider keeps mail in one of two shapes:

- Imported or PGP/MIME mail (``MIMEType`` "multipart/mixed"): the body
  decrypts to a MIME entity. For mail imported whole it is the complete
  original message, which is served as it came, only with CRLF line ends.
- Web-app mail: the body is the text alone (text/plain or text/html) and
  each attachment is stored apart. The message is rebuilt from the stored
  header plus a text part and the attachments: multipart/mixed, with a
  multipart/related around the text and the inline parts that have a
  Content-ID.

The result is deterministic for a given input (boundaries come from the
message ID), so building twice gives the same bytes.

``pgp_mime_envelope`` does the reverse for imports: it wraps a whole
encrypted message in the RFC 3156 structure the import route takes.
"""

import base64
import hashlib
import logging
import quopri
import re
from email.header import Header
from email.utils import encode_rfc2231

from mailsync.provider.types import Attachment, EmailAddress, Message
from mailsync.structure import normalize_crlf

__all__ = ["build_message", "normalize_crlf", "pgp_mime_envelope"]

logger = logging.getLogger(__name__)

CRLF = b"\r\n"
MULTIPART_MIXED = "multipart/mixed"
INTERNAL_ID_DOMAIN = "protonmail.internalid"

_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")

# Headers that describe the body; the builder writes its own.
_CONTENT_HEADERS = {
    b"content-type",
    b"content-transfer-encoding",
    b"content-disposition",
    b"content-id",
    b"content-description",
    b"mime-version",
}

# What a PGP/MIME import envelope carries over from the original header.
_ENVELOPE_HEADERS = (
    b"message-id",
    b"from",
    b"to",
    b"subject",
    b"date",
    b"received",
    b"cc",
)

_BASE64_LINE = 76


def split_header(message: bytes) -> tuple[bytes, bytes]:
    """The header block (with its final CRLF) and the body, of CRLF input."""
    if message.startswith(CRLF):
        return b"", message[2:]
    end = message.find(CRLF + CRLF)
    if end < 0:
        return message, b""
    return message[: end + 2], message[end + 4 :]


def header_fields(header_block: bytes) -> list[tuple[bytes, bytes]]:
    """(lowercased name, raw field with folding and CRLF) in order.

    Lines before the first field or without a colon stay attached to the
    field before them, so nothing of the block is lost.
    """
    fields: list[tuple[bytes, bytes]] = []
    for line in header_block.split(CRLF)[:-1] if header_block else []:
        match = _FIELD_NAME.match(line)
        if match and not line[:1].isspace():
            fields.append((match.group(1).lower(), line + CRLF))
        elif fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + line + CRLF)
        else:
            fields.append((b"", line + CRLF))
    return fields


def build_message(
    message: Message, body: bytes, attachments: list[tuple[Attachment, bytes]]
) -> bytes:
    """The RFC 822 bytes (CRLF) for a decrypted provider message.

    ``body`` is the decrypted ``message.body``; ``attachments`` pairs each
    of ``message.attachments`` with its decrypted content.
    """
    if message.mime_type.lower() == MULTIPART_MIXED and not attachments:
        return _build_from_entity(message, normalize_crlf(body))
    return _build_from_parts(message, body, attachments)


def _build_from_entity(message: Message, entity: bytes) -> bytes:
    entity_header, _ = split_header(entity)
    entity_names = {name for name, _ in header_fields(entity_header)}

    # Mail imported whole decrypts to itself: the original header is inside.
    # Only an entity whose header is nothing but body headers is the inner
    # part of a PGP/MIME message.
    entity_names.discard(b"")
    if not entity_names or entity_names - _CONTENT_HEADERS:
        return entity
    if _same_header(message, entity_header):
        return entity

    # A PGP/MIME body is only the inner entity; give it the message header.
    outer = _message_header(message)
    return outer + entity


def _same_header(message: Message, entity_header: bytes) -> bool:
    stored = normalize_crlf(message.header.encode("utf-8", "surrogateescape"))
    return stored.rstrip(CRLF) == entity_header.rstrip(CRLF)


def _message_header(message: Message) -> bytes:
    """The stored header without body headers, completed from the metadata."""
    stored = normalize_crlf(message.header.encode("utf-8", "surrogateescape"))
    if stored and not stored.endswith(CRLF):
        stored += CRLF
    stored, _ = split_header(stored + CRLF)

    fields = [
        (name, raw)
        for name, raw in header_fields(stored)
        if name and name not in _CONTENT_HEADERS
    ]
    present = {name for name, _ in fields}

    def add(name: str, value: str) -> None:
        if name.lower().encode() not in present and value:
            fields.append((name.lower().encode(), _field(name, value)))

    add("Subject", message.subject)
    add("From", _address(message.sender))
    add("To", _address_list(message.to_list))
    add("Cc", _address_list(message.cc_list))
    add("Bcc", _address_list(message.bcc_list))
    add("Message-ID", _message_id(message))

    header = b"".join(raw for _, raw in fields)
    return header + b"MIME-Version: 1.0" + CRLF


def _message_id(message: Message) -> str:
    if message.external_id:
        return f"<{message.external_id}>"
    return f"<{message.id}@{INTERNAL_ID_DOMAIN}>"


def _field(name: str, value: str) -> bytes:
    if value.isascii():
        encoded = value
    else:
        encoded = Header(value, "utf-8", header_name=name).encode()
    return f"{name}: {encoded}".encode("ascii", "replace") + CRLF


def _address(address: EmailAddress) -> str:
    if not address.address and not address.name:
        return ""
    if not address.name:
        return address.address
    name = address.name
    if name.isascii():
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{address.address}>'
    encoded = Header(name, "utf-8").encode()
    return f"{encoded} <{address.address}>"


def _address_list(addresses: list[EmailAddress]) -> str:
    return ", ".join(filter(None, (_address(a) for a in addresses)))


def _build_from_parts(
    message: Message, body: bytes, attachments: list[tuple[Attachment, bytes]]
) -> bytes:
    header = _message_header(message)
    text_part = _text_part(body, message.mime_type)

    if not attachments:
        return header + text_part

    inline = [(a, d) for a, d in attachments if _is_related(a)]
    attached = [(a, d) for a, d in attachments if not _is_related(a)]
    boundaries = _boundaries(message.id)

    parts = []
    if inline:
        related = [text_part] + [_attachment_part(a, d) for a, d in inline]
        parts.append(_multipart("multipart/related", next(boundaries), related))
    else:
        parts.append(text_part)
    parts.extend(_attachment_part(a, d) for a, d in attached)

    return header + _multipart(MULTIPART_MIXED, next(boundaries), parts)


def _is_related(attachment: Attachment) -> bool:
    return attachment.disposition.lower() == "inline" and bool(attachment.content_id)


def _boundaries(seed: str):
    digest = hashlib.sha256(seed.encode()).hexdigest()
    counter = 0
    while True:
        counter += 1
        yield f"{digest[:28]}.{counter}"


def _multipart(content_type: str, boundary: str, parts: list[bytes]) -> bytes:
    delimiter = b"--" + boundary.encode()
    out = [f'Content-Type: {content_type}; boundary="{boundary}"'.encode() + CRLF]
    out.append(CRLF)
    for part in parts:
        out.append(delimiter + CRLF)
        out.append(part)
        out.append(CRLF)
    out.append(delimiter + b"--" + CRLF)
    return b"".join(out)


def _text_part(body: bytes, mime_type: str) -> bytes:
    mime_type = mime_type.lower() if mime_type.lower().startswith("text/") else ""
    content_type = mime_type or "text/plain"
    if _is_utf8(body):
        content_type += "; charset=utf-8"

    if _is_plain_seven_bit(body):
        encoding, encoded = "7bit", normalize_crlf(body)
    else:
        encoding = "quoted-printable"
        encoded = normalize_crlf(quopri.encodestring(normalize_crlf(body)))

    lines = [
        f"Content-Type: {content_type}".encode() + CRLF,
        f"Content-Transfer-Encoding: {encoding}".encode() + CRLF,
        CRLF,
        encoded,
    ]
    return b"".join(lines)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_plain_seven_bit(data: bytes) -> bool:
    if not data.isascii() or b"\0" in data:
        return False
    return all(len(line) <= 998 for line in normalize_crlf(data).split(CRLF))


def _attachment_part(attachment: Attachment, data: bytes) -> bytes:
    mime_type = attachment.mime_type or "application/octet-stream"
    disposition = attachment.disposition.lower() or "attachment"
    name = attachment.name or "attachment.bin"

    lines = [
        f"Content-Type: {mime_type}; {_param('name', name)}".encode() + CRLF,
        f"Content-Disposition: {disposition}; {_param('filename', name)}".encode()
        + CRLF,
    ]
    if attachment.content_id:
        content_id = attachment.content_id.strip()
        if not content_id.startswith("<"):
            content_id = f"<{content_id}>"
        lines.append(f"Content-ID: {content_id}".encode("ascii", "replace") + CRLF)

    if mime_type.lower() == "message/rfc822":
        # RFC 2046 allows no base64 for messages; send the message itself.
        lines.append(CRLF)
        lines.append(normalize_crlf(data))
    else:
        lines.append(b"Content-Transfer-Encoding: base64" + CRLF)
        lines.append(CRLF)
        lines.append(_base64_lines(data))
    return b"".join(lines)


def _param(key: str, value: str) -> str:
    if value.isascii() and '"' not in value and "\\" not in value:
        return f'{key}="{value}"'
    # RFC 2231 for parameters that are not plain ASCII.
    return f"{key}*={encode_rfc2231(value, 'utf-8')}"


def _base64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    lines = [
        encoded[i : i + _BASE64_LINE] for i in range(0, len(encoded), _BASE64_LINE)
    ]
    return CRLF.join(lines) + (CRLF if lines else b"")


def _well_formed(field: bytes) -> bool:
    # Every line after the first must be a folded continuation; a stray line
    # would end the envelope's header early for a strict parser.
    continuation = field.split(CRLF)[1:-1]
    return all(line[:1] in (b" ", b"\t") for line in continuation)


def pgp_mime_envelope(literal: bytes, armored: str, boundary_seed: str) -> bytes:
    """Wrap an encrypted whole message as RFC 3156 PGP/MIME for import.

    The outer header repeats the original's address, subject and date
    fields, so the provider can file the message without decrypting it.
    """
    header, _ = split_header(normalize_crlf(literal))
    kept: dict[bytes, bytes] = {}
    for name, raw in header_fields(header):
        if name in _ENVELOPE_HEADERS and name not in kept and _well_formed(raw):
            kept[name] = raw

    boundary = next(_boundaries(boundary_seed))
    # The structure comes first, so that no copied field can hide it.
    out = [
        b"MIME-Version: 1.0" + CRLF,
        b"Content-Type: multipart/encrypted; "
        b'protocol="application/pgp-encrypted"; '
        + f'boundary="{boundary}"'.encode()
        + CRLF,
    ]
    out += [kept[name] for name in _ENVELOPE_HEADERS if name in kept]
    out.append(CRLF)

    delimiter = b"--" + boundary.encode()
    out += [
        delimiter + CRLF,
        b"Content-Type: application/pgp-encrypted" + CRLF,
        b"Content-Description: PGP/MIME version identification" + CRLF,
        CRLF,
        b"Version: 1" + CRLF,
        CRLF,
        delimiter + CRLF,
        b'Content-Type: application/octet-stream; name="encrypted.asc"' + CRLF,
        b"Content-Description: OpenPGP encrypted message" + CRLF,
        b'Content-Disposition: inline; filename="encrypted.asc"' + CRLF,
        CRLF,
        normalize_crlf(armored.encode("ascii")),
        CRLF,
        delimiter + b"--" + CRLF,
    ]
    return b"".join(out)
