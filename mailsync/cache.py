"""Sealing and opening what the index keeps of a message's content.

The built RFC 822 bytes, their top-level header on its own, and the
search text are compressed and encrypted with :mod:`accounts.secretbox`.
The purpose of each value names the account and the provider message, so a
sealed body copied onto another message (or another account) does not open.
IMAP reads bodies through :func:`read_message` or :func:`open_body`, and
headers through :func:`open_header`; nothing here talks to the provider.
"""

import json
import logging
from typing import Any

from accounts import secretbox
from mailsync.models import CachedMessage, Message

logger = logging.getLogger(__name__)


def body_purpose(account_id: int, provider_id: str) -> str:
    return f"message-body:{account_id}:{provider_id}"


def header_purpose(account_id: int, provider_id: str) -> str:
    return f"message-header:{account_id}:{provider_id}"


def search_purpose(account_id: int, provider_id: str) -> str:
    return f"message-search:{account_id}:{provider_id}"


def seal_body(account_id: int, provider_id: str, raw: bytes) -> bytes:
    return secretbox.seal_compressed(raw, body_purpose(account_id, provider_id))


def open_body(account_id: int, provider_id: str, sealed: bytes) -> bytes:
    return secretbox.open_compressed(sealed, body_purpose(account_id, provider_id))


def header_end(parts: dict[str, Any]) -> int:
    """Where the top-level header ends in the cached bytes; 0 when unknown.

    ``parts[""]`` holds the whole message's offsets (see
    ``mailsync.structure.analyze.PartOffsets``); its second value is the
    end of the header, blank line included.
    """
    offsets: list[int] = parts.get("") or []
    if len(offsets) < 2 or offsets[0] != 0:
        # A header copy is served as the message's start: only a header
        # that starts the message can be cut that way.
        return 0
    return offsets[1]


def seal_header(account_id: int, provider_id: str, header: bytes) -> bytes:
    return secretbox.seal_compressed(header, header_purpose(account_id, provider_id))


def open_header(account_id: int, provider_id: str, sealed: bytes) -> bytes | None:
    """The message bytes up to the end of its top-level header.

    None when nothing was sealed (a row cached before headers were kept
    apart): the caller then reads the whole body.
    """
    if not sealed:
        return None
    return secretbox.open_compressed(sealed, header_purpose(account_id, provider_id))


def cache_columns(
    account_id: int, provider_id: str, raw: bytes, parts: dict[str, Any]
) -> dict[str, bytes]:
    """The :class:`CachedMessage` column values for the built bytes ``raw``.

    The one place a cache row's content is made, so the header copy always
    matches the body it was cut from.
    """
    end = header_end(parts)
    header_sealed = seal_header(account_id, provider_id, raw[:end]) if end else b""
    return {
        "sealed": seal_body(account_id, provider_id, raw),
        "header_sealed": header_sealed,
    }


def seal_search(account_id: int, provider_id: str, fields: dict[str, Any]) -> bytes:
    encoded = json.dumps(fields, ensure_ascii=False, default=str).encode()
    return secretbox.seal_compressed(encoded, search_purpose(account_id, provider_id))


def open_search(account_id: int, provider_id: str, sealed: bytes) -> dict[str, Any]:
    if not sealed:
        return {}
    plain = secretbox.open_compressed(sealed, search_purpose(account_id, provider_id))
    return json.loads(plain)


def read_message(message: Message) -> bytes:
    """The exact bytes FETCH BODY[] serves for ``message``."""
    cached = CachedMessage.objects.get(message=message)
    return open_body(message.account_id, message.provider_id, cached.sealed)


def read_search_fields(message: Message) -> dict[str, Any]:
    """Decoded header fields and body text for SEARCH (see index.py)."""
    return open_search(
        message.account_id, message.provider_id, bytes(message.search_sealed)
    )
