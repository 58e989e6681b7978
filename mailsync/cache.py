"""Sealing and opening what the index keeps of a message's content.

The built RFC 822 bytes and the search text are compressed and encrypted
with :mod:`accounts.secretbox`. The purpose of each value names the account
and the provider message, so a sealed body copied onto another message (or
another account) does not open. IMAP reads bodies through
:func:`read_message`; nothing here talks to the provider.
"""

import json
import logging
from typing import Any

from accounts import secretbox
from mailsync.models import CachedMessage, Message

logger = logging.getLogger(__name__)


def body_purpose(account_id: int, provider_id: str) -> str:
    return f"message-body:{account_id}:{provider_id}"


def search_purpose(account_id: int, provider_id: str) -> str:
    return f"message-search:{account_id}:{provider_id}"


def seal_body(account_id: int, provider_id: str, raw: bytes) -> bytes:
    return secretbox.seal_compressed(raw, body_purpose(account_id, provider_id))


def open_body(account_id: int, provider_id: str, sealed: bytes) -> bytes:
    return secretbox.open_compressed(sealed, body_purpose(account_id, provider_id))


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
