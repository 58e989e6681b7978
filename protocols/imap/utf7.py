"""Modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3).

Printable US-ASCII stands for itself, except "&", which is written "&-".
Everything else is UTF-16BE, encoded in base64 with "," in place of "/",
without padding, between "&" and "-".
"""

import base64
import binascii
import logging

logger = logging.getLogger(__name__)

_MODIFIED_BASE64_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"
)


class ModifiedUTF7Error(ValueError):
    """A mailbox name that is not valid modified UTF-7."""


def _is_printable_ascii(char: str) -> bool:
    return 0x20 <= ord(char) <= 0x7E


def _encode_run(run: str) -> str:
    try:
        utf16 = run.encode("utf-16-be")
    except UnicodeEncodeError as error:
        raise ModifiedUTF7Error("mailbox name is not valid Unicode") from error

    encoded = base64.b64encode(utf16).rstrip(b"=").replace(b"/", b",")
    return "&" + encoded.decode("ascii") + "-"


def encode_modified_utf7(name: str) -> str:
    """Return `name` in modified UTF-7."""
    pieces: list[str] = []
    run_start: int | None = None

    for index, char in enumerate(name):
        if not _is_printable_ascii(char):
            if run_start is None:
                run_start = index
            continue

        if run_start is not None:
            pieces.append(_encode_run(name[run_start:index]))
            run_start = None

        pieces.append("&-" if char == "&" else char)

    if run_start is not None:
        pieces.append(_encode_run(name[run_start:]))

    return "".join(pieces)


def _decode_run(run: str) -> str:
    if not set(run) <= _MODIFIED_BASE64_CHARS:
        raise ModifiedUTF7Error("invalid character in modified base64")

    # A run of 4k+1 characters cannot come from whole bytes.
    if len(run) % 4 == 1:
        raise ModifiedUTF7Error("truncated modified base64")

    padded = run.replace(",", "/") + "=" * (-len(run) % 4)
    try:
        utf16 = base64.b64decode(padded, validate=True)
    except binascii.Error as error:
        raise ModifiedUTF7Error("invalid modified base64") from error

    # Unused trailing bits must be zero, or one name would have two spellings.
    if base64.b64encode(utf16).rstrip(b"=").replace(b"/", b",") != run.encode():
        raise ModifiedUTF7Error("non-canonical modified base64")

    if len(utf16) % 2:
        raise ModifiedUTF7Error("modified base64 holds an odd number of bytes")

    try:
        text = utf16.decode("utf-16-be")
    except UnicodeDecodeError as error:
        raise ModifiedUTF7Error("modified base64 holds invalid UTF-16") from error

    if any(_is_printable_ascii(char) for char in text):
        raise ModifiedUTF7Error("printable ASCII must not be base64-encoded")

    return text


def decode_modified_utf7(data: str | bytes) -> str:
    """Return the mailbox name that modified UTF-7 `data` stands for."""
    if isinstance(data, bytes):
        try:
            data = data.decode("ascii")
        except UnicodeDecodeError as error:
            raise ModifiedUTF7Error("8-bit byte in mailbox name") from error

    pieces: list[str] = []
    index = 0

    while index < len(data):
        char = data[index]
        if not _is_printable_ascii(char):
            raise ModifiedUTF7Error("control character in mailbox name")

        if char != "&":
            pieces.append(char)
            index += 1
            continue

        end = data.find("-", index + 1)
        if end == -1:
            raise ModifiedUTF7Error("unterminated '&' sequence")

        if end == index + 1:
            pieces.append("&")
        else:
            pieces.append(_decode_run(data[index + 1 : end]))
        index = end + 1

    return "".join(pieces)
