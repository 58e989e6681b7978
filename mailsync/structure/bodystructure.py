"""IMAP BODYSTRUCTURE and BODY (RFC 3501 section 7.4.2), as Dovecot 2.3.

Sizes are body octets and ``lines`` counts LF octets in the body. Type,
subtype and parameters keep the message's own spelling. Dovecot's habits
reproduced here:

- text/* parts without a charset parameter get ``"charset" "us-ascii"``
  appended to their parameters.
- At the top of a message (or of a message/rfc822 body), Content-* fields
  other than Content-Type count only if there is a Content-Type or a
  MIME-Version field.
- The first field of each kind wins (for Content-Transfer-Encoding and
  Content-Language the first usable one). Content-Disposition is odd: a
  later field replaces an earlier one until one with parameters was seen.
- A multipart without parts gets one empty text/plain part.
- A message that is a single plain us-ascii 7bit text part, with no other
  MIME fields, is answered in canonical lower case.
"""

import logging

from mailsync.structure import imapstring
from mailsync.structure.envelope import EMPTY_ENVELOPE, envelope
from mailsync.structure.headers import HeaderField, first_value
from mailsync.structure.mime import Part
from mailsync.structure.params import (
    Params,
    param_value,
    parse_disposition,
    parse_languages,
    parse_transfer_encoding,
)

logger = logging.getLogger(__name__)

NIL = imapstring.NIL
_PLAIN_7BIT = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" %d %d'
_NO_EXTENSIONS = b" NIL NIL NIL NIL)"
EMPTY_BODY = _PLAIN_7BIT % (0, 0) + b")"
EMPTY_BODYSTRUCTURE = _PLAIN_7BIT % (0, 0) + _NO_EXTENSIONS
_EXTRA_MIME_FIELDS = (
    b"content-id",
    b"content-description",
    b"content-md5",
    b"content-location",
    b"content-disposition",
)


def bodystructure(message: bytes, root: Part) -> bytes:
    """BODYSTRUCTURE of a whole message, extension data included."""
    if _is_plain_7bit(root):
        return _plain_7bit(message, root, extended=True)
    return _write(message, root, extended=True)


def body(message: bytes, root: Part) -> bytes:
    """The non-extensible BODY form of a whole message."""
    if _is_plain_7bit(root):
        return _plain_7bit(message, root, extended=False)
    return _write(message, root, extended=False)


def _is_plain_7bit(root: Part) -> bool:
    # Dovecot answers a message that is one plain us-ascii text part with its
    # canonical lower-case form, whatever case the Content-Type used.
    content_type = root.content_type
    if root.is_multipart or not content_type.is_text:
        return False
    if content_type.subtype_key != b"plain":
        return False
    if content_type.params and [
        (key.lower(), value.lower()) for key, value in content_type.params
    ] != [(b"charset", b"us-ascii")]:
        return False

    fields = _mime_fields(root)
    encoding = parse_transfer_encoding(fields)
    if encoding is not None and encoding.lower() != b"7bit":
        return False
    if any(header.key in _EXTRA_MIME_FIELDS for header in fields):
        return False
    return _languages(fields) == NIL


def _plain_7bit(message: bytes, root: Part, extended: bool) -> bytes:
    size = root.body_end - root.body_start
    lines = message.count(b"\n", root.body_start, root.body_end)
    return _PLAIN_7BIT % (size, lines) + (_NO_EXTENSIONS if extended else b")")


def _write(message: bytes, part: Part, extended: bool) -> bytes:
    if part.is_multipart:
        return _write_multipart(message, part, extended)
    return _write_single(message, part, extended)


def _mime_fields(part: Part) -> list[HeaderField]:
    """The Content-* fields that count for this part."""
    if part.is_message_root and not part.content_type.present:
        if first_value(part.fields, b"mime-version") is None:
            return []
    return part.fields


def _write_multipart(message: bytes, part: Part, extended: bool) -> bytes:
    if part.children:
        children = b"".join(_write(message, child, extended) for child in part.children)
    else:
        children = EMPTY_BODYSTRUCTURE if extended else EMPTY_BODY

    written = children + b" " + imapstring.string(part.content_type.subtype)
    if extended:
        fields = _mime_fields(part)
        written += b" " + _params(part.content_type.params)
        written += b" " + _extension_tail(fields)
    return b"(" + written + b")"


def _write_single(message: bytes, part: Part, extended: bool) -> bytes:
    content_type = part.content_type
    fields = _mime_fields(part)
    params = list(content_type.params)
    if content_type.is_text and param_value(params, b"charset") is None:
        params.append((b"charset", b"us-ascii"))

    encoding = parse_transfer_encoding(fields) or b"7bit"
    size = part.body_end - part.body_start
    items = [
        imapstring.string(content_type.type),
        imapstring.string(content_type.subtype),
        _params(params),
        imapstring.nstring_nolf(first_value(fields, b"content-id")),
        imapstring.nstring_nolf(first_value(fields, b"content-description")),
        imapstring.string(encoding),
        b"%d" % size,
    ]

    lines = message.count(b"\n", part.body_start, part.body_end)
    if content_type.is_text:
        items.append(b"%d" % lines)
    elif content_type.is_message_rfc822:
        if part.message is None:
            items.append(EMPTY_ENVELOPE)
            items.append(EMPTY_BODYSTRUCTURE if extended else EMPTY_BODY)
        else:
            items.append(envelope(part.message.fields))
            items.append(_write(message, part.message, extended))
        items.append(b"%d" % lines)

    if extended:
        items.append(imapstring.nstring_nolf(first_value(fields, b"content-md5")))
        items.append(_extension_tail(fields))
    return b"(" + b" ".join(items) + b")"


def _extension_tail(fields: list[HeaderField]) -> bytes:
    """Disposition, language and location, shared by both part kinds."""
    return b" ".join(
        [
            _disposition(fields),
            _languages(fields),
            imapstring.nstring_nolf(first_value(fields, b"content-location")),
        ]
    )


def _params(params: Params) -> bytes:
    if not params:
        return NIL
    written = []
    for key, value in params:
        written.append(imapstring.string(key))
        written.append(imapstring.string(value))
    return b"(" + b" ".join(written) + b")"


def _disposition(fields: list[HeaderField]) -> bytes:
    disposition = None
    for header in fields:
        if header.key != b"content-disposition":
            continue
        if disposition is not None and disposition.params:
            break
        disposition = parse_disposition(header.value)

    if disposition is None:
        return NIL
    return b"(%s %s)" % (
        imapstring.string(disposition.type),
        _params(disposition.params),
    )


def _languages(fields: list[HeaderField]) -> bytes:
    # The first Content-Language field that names any language counts.
    for header in fields:
        if header.key != b"content-language":
            continue
        languages = parse_languages(header.value)
        if languages:
            quoted = b" ".join(imapstring.string(lang) for lang in languages)
            return b"(" + quoted + b")"
    return NIL
