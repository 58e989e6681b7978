"""Just enough MIME for the provider: split entities, read headers, build bodies.

The splitter works on bytes and never re-serialises a part, so armored text
and attachment data come out exactly as the client sent them. The standard
library only parses header blocks (parameters, RFC 2047 and RFC 2231).
"""

import base64
import binascii
import codecs
import email.errors
import email.header
import email.parser
import email.policy
import email.utils
import logging
import quopri
import secrets
from dataclasses import dataclass, field
from email.message import Message

logger = logging.getLogger(__name__)

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_BASE64 = bytes(c for c in range(256) if c not in _BASE64_ALPHABET)


@dataclass
class Entity:
    """One MIME entity: its header block, parsed fields and raw body."""

    header_bytes: bytes
    body: bytes
    fields: list[list[str]] = field(default_factory=list)
    parsed: Message = field(default_factory=Message)

    @property
    def content_type(self) -> str:
        return self.parsed.get_content_type()

    @property
    def main_type(self) -> str:
        return self.parsed.get_content_maintype()

    @property
    def sub_type(self) -> str:
        return self.parsed.get_content_subtype()

    def get(self, name: str) -> str | None:
        lowered = name.lower()
        for field_name, value in self.fields:
            if field_name.lower() == lowered:
                return value
        return None

    def children(self) -> list["Entity"]:
        boundary = self.parsed.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            return []
        return [
            parse_entity(chunk)
            for chunk in split_multipart(self.body, boundary.encode("utf-8", "replace"))
        ]

    def decoded_body(self) -> bytes:
        encoding = (self.get("Content-Transfer-Encoding") or "").strip().lower()
        if encoding == "base64":
            # Be lenient like mail readers: drop stray characters, fix padding.
            compact = self.body.translate(None, _NOT_BASE64).rstrip(b"=")
            compact += b"=" * (-len(compact) % 4)
            try:
                return base64.b64decode(compact)
            except (binascii.Error, ValueError):
                return self.body
        if encoding == "quoted-printable":
            return quopri.decodestring(self.body)
        return self.body

    def filename(self) -> str:
        name = self.parsed.get_filename() or self.parsed.get_param("name")
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
        return decode_words(name) if isinstance(name, str) else ""

    def disposition(self) -> str | None:
        return self.parsed.get_content_disposition()

    def text(self) -> str:
        """The decoded body as text, read in the part's charset."""
        charset = self.parsed.get_content_charset() or "utf-8"
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = "latin-1"
        return self.decoded_body().decode(charset, errors="replace")


def split_header(raw: bytes) -> tuple[bytes, bytes]:
    """(header block with its line ends, body) of an entity."""
    if raw.startswith(b"\r\n"):
        return b"", raw[2:]
    if raw.startswith(b"\n"):
        return b"", raw[1:]

    candidates = [
        (index, len(separator))
        for separator in (b"\r\n\r\n", b"\n\n")
        if (index := raw.find(separator)) >= 0
    ]
    if not candidates:
        return raw, b""

    index, length = min(candidates)
    half = length // 2
    return raw[: index + half], raw[index + length :]


def header_fields(header_bytes: bytes) -> list[list[str]]:
    """[name, unfolded value] pairs, in order, values left encoded."""
    text = header_bytes.decode("utf-8", errors="replace")
    pairs: list[list[str]] = []

    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line[0] in " \t" and pairs:
            pairs[-1][1] += " " + line.strip()
            continue

        name, separator, value = line.partition(":")
        if not separator or not name.strip() or " " in name.strip():
            continue
        pairs.append([name.strip(), value.strip()])

    return pairs


def parse_entity(raw: bytes) -> Entity:
    header_bytes, body = split_header(raw)
    return Entity(
        header_bytes=header_bytes,
        body=body,
        fields=header_fields(header_bytes),
        parsed=_HEADER_PARSER.parsebytes(header_bytes + b"\r\n"),
    )


def split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The raw parts between boundary lines (the line end before one is its own)."""
    delimiter = b"--" + boundary
    parts: list[bytes] = []
    current: list[bytes] | None = None

    for line in body.splitlines(keepends=True):
        marker = line.rstrip(b"\r\n").rstrip(b" \t")
        if marker in (delimiter, delimiter + b"--"):
            if current is not None:
                parts.append(_without_last_line_end(b"".join(current)))
            if marker == delimiter + b"--":
                return parts
            current = []
            continue

        if current is not None:
            current.append(line)

    if current is not None:
        parts.append(_without_last_line_end(b"".join(current)))
    return parts


def _without_last_line_end(data: bytes) -> bytes:
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith(b"\n"):
        return data[:-1]
    return data


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; leave anything undecodable as it is."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (LookupError, UnicodeDecodeError, ValueError, email.errors.HeaderParseError):
        return value


def parse_address(value: str | None) -> dict[str, str] | None:
    addresses = parse_address_list(value)
    if addresses:
        return addresses[0]
    if value and value.strip():
        return {"Name": decode_words(value.strip()), "Address": ""}
    return None


def parse_address_list(value: str | None) -> list[dict[str, str]]:
    if not value or not value.strip():
        return []

    result = []
    for name, address in email.utils.getaddresses([value]):
        if not name and not address:
            continue
        result.append({"Name": decode_words(name), "Address": address})
    return result


def format_address(address: dict[str, str]) -> str:
    name = address.get("Name") or ""
    mailbox = address.get("Address") or ""
    if not name:
        return mailbox
    encoded = str(email.header.Header(name, "utf-8")) if not name.isascii() else name
    return email.utils.formataddr((encoded, mailbox))


def parse_date(value: str | None) -> int | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return int(parsed.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


def message_id_value(value: str | None) -> str:
    if not value:
        return ""
    return value.strip().strip("<>").strip()


@dataclass
class Envelope:
    subject: str
    sender: dict[str, str]
    to_list: list[dict[str, str]]
    cc_list: list[dict[str, str]]
    bcc_list: list[dict[str, str]]
    reply_tos: list[dict[str, str]]
    external_id: str
    time: int | None


def envelope_of(entity: Entity) -> Envelope:
    """Subject, addresses, Message-Id and date from a top-level header."""
    sender = parse_address(entity.get("From")) or {"Name": "", "Address": ""}
    reply_tos = parse_address_list(entity.get("Reply-To"))

    return Envelope(
        subject=decode_words(entity.get("Subject") or ""),
        sender=sender,
        to_list=parse_address_list(entity.get("To")),
        cc_list=parse_address_list(entity.get("Cc")),
        bcc_list=parse_address_list(entity.get("Bcc")),
        # Without Reply-To the provider keeps one empty address, not the sender.
        reply_tos=reply_tos or [{"Name": "", "Address": ""}],
        external_id=message_id_value(entity.get("Message-Id")),
        time=parse_date(entity.get("Date")),
    )


@dataclass
class Leaf:
    """A non-multipart part of a plain (unencrypted) message."""

    entity: Entity
    is_body: bool


def leaves(entity: Entity) -> list[Leaf]:
    """Walk a message's tree; text parts not marked as attachments are bodies."""
    if entity.main_type == "multipart":
        found: list[Leaf] = []
        for child in entity.children():
            found += leaves(child)
        return found

    is_body = entity.main_type == "text" and entity.disposition() != "attachment"
    return [Leaf(entity, is_body)]


# Headers a client copies onto the outside of a fully encrypted upload.
WRAPPER_HEADERS = ("Message-Id", "From", "To", "Subject", "Date", "Received", "Cc")


def full_encryption_upload(literal: bytes, armored: str) -> bytes:
    """The PGP/MIME upload a client sends when it encrypts a whole message."""
    original = parse_entity(literal)
    lines = []
    for name in WRAPPER_HEADERS:
        value = original.get(name)
        if value is not None:
            lines.append(f"{name}: {value}")
    return _multipart_encrypted(lines, armored)


# Headers of a composed message that travel on the outside of its PGP/MIME
# form; Bcc never leaves the provider.
OUTGOING_HEADERS = (
    "Date",
    "From",
    "To",
    "Cc",
    "Subject",
    "Message-Id",
    "In-Reply-To",
    "References",
)


def pgp_mime_message(fields: list[list[str]], armored: str) -> bytes:
    """The RFC 3156 message the provider sends to an outside PGP/MIME recipient."""
    wanted = {name.lower(): name for name in OUTGOING_HEADERS}
    lines = [
        f"{wanted[name.lower()]}: {_one_line(value)}"
        for name, value in fields
        if name.lower() in wanted
    ]
    return _multipart_encrypted(lines, armored)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _multipart_encrypted(header_lines: list[str], armored: str) -> bytes:
    boundary = secrets.token_hex(16)
    lines = [
        *header_lines,
        "Mime-Version: 1.0",
        f'Content-Type: multipart/encrypted; boundary="{boundary}";'
        ' protocol="application/pgp-encrypted"',
    ]
    body = (
        f"--{boundary}\r\n"
        "Content-Description: PGP/MIME version identification\r\n"
        "Content-Type: application/pgp-encrypted\r\n"
        "\r\n"
        "Version: 1\r\n"
        f"--{boundary}\r\n"
        "Content-Description: OpenPGP encrypted message\r\n"
        "Content-Disposition: inline; filename=encrypted.asc\r\n"
        "Content-Type: application/octet-stream; name=encrypted.asc\r\n"
        "\r\n"
        f"{armored.rstrip()}\r\n"
        f"--{boundary}--\r\n"
    )
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")


def drop_fields(fields: list[list[str]], names: set[str]) -> list[list[str]]:
    lowered = {name.lower() for name in names}
    return [pair for pair in fields if pair[0].lower() not in lowered]


@dataclass
class StoredPart:
    """An attachment as the provider keeps it, decrypted for a rebuild."""

    name: str
    mime_type: str
    disposition: str
    data: bytes
    # [name, value] fields kept with the attachment (Content-ID and such).
    headers: list[list[str]] = field(default_factory=list)
    content_id: str = ""


# Fields of a part that the builder writes itself.
_PART_CONTENT_FIELDS = {
    "content-type",
    "content-disposition",
    "content-transfer-encoding",
}
_FIELD_SPELLING = {"content-id": "Content-ID", "mime-version": "MIME-Version"}


def build_message(
    fields: list[list[str]],
    body: bytes,
    mime_type: str,
    attachments: list[StoredPart],
) -> bytes:
    """A plain RFC 822 message from header fields, a text body and attachments."""
    content_fields = {"content-type", "content-transfer-encoding", "mime-version"}
    header = [
        f"{name}: {value}"
        for name, value in fields
        if name.lower() not in content_fields
    ]
    header.append("MIME-Version: 1.0")
    text_type = f"{mime_type}; charset=utf-8"

    if not attachments:
        header.append(f"Content-Type: {text_type}")
        header.append("Content-Transfer-Encoding: base64")
        return _join(header, _base64_lines(body))

    boundary = secrets.token_hex(16)
    header.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')

    parts = [
        f"--{boundary}\r\nContent-Type: {text_type}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + _base64_lines(body)
    ]
    for attachment in attachments:
        quoted = attachment.name.replace('"', "'")
        kept = "".join(f"{line}\r\n" for line in _kept_part_fields(attachment))
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Type: {attachment.mime_type}; name="{quoted}"\r\n'
            f'Content-Disposition: {attachment.disposition}; filename="{quoted}"\r\n'
            f"{kept}"
            "Content-Transfer-Encoding: base64\r\n\r\n" + _base64_lines(attachment.data)
        )
    return _join(header, "".join(parts) + f"--{boundary}--\r\n")


def _kept_part_fields(attachment: StoredPart) -> list[str]:
    """The stored fields of an attachment, as lines (Content-ID among them)."""
    lines = []
    names = set()
    for name, value in attachment.headers:
        lowered = name.lower()
        if lowered in _PART_CONTENT_FIELDS:
            continue
        names.add(lowered)
        lines.append(f"{_field_name(lowered)}: {_one_line(value)}")

    content_id = attachment.content_id.strip()
    if content_id and "content-id" not in names:
        # Older rows have the id in its column only.
        bracketed = content_id if content_id.startswith("<") else f"<{content_id}>"
        lines.append(f"Content-ID: {bracketed}")
    return lines


def _field_name(lowered: str) -> str:
    if lowered in _FIELD_SPELLING:
        return _FIELD_SPELLING[lowered]
    return "-".join(word.capitalize() for word in lowered.split("-"))


def _base64_lines(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return "".join(encoded[i : i + 76] + "\r\n" for i in range(0, len(encoded), 76))


def _join(header: list[str], body: str) -> bytes:
    return ("\r\n".join(header) + "\r\n\r\n" + body).encode("utf-8")
