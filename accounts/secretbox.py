"""Encryption of secrets at rest (provider tokens, key passphrases, cache).

AES-256-GCM with the key from ``settings.BRIDGE_SECRET_KEY``, which lives in
the data directory or the environment and never in the database. Each value is
bound to a *purpose* (the GCM associated data), so a ciphertext copied from one
column into another does not decrypt.
"""

import base64
import os
import zlib
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

FORMAT_VERSION = b"\x01"
NONCE_BYTES = 12


class SecretBoxError(Exception):
    """A stored secret could not be decrypted (wrong key or tampered data)."""


@lru_cache(maxsize=4)
def _cipher(encoded_key: str) -> AESGCM:
    raw = base64.urlsafe_b64decode(encoded_key + "=" * (-len(encoded_key) % 4))
    if len(raw) != 32:
        raise SecretBoxError("BRIDGE_SECRET_KEY must decode to 32 bytes")
    return AESGCM(raw)


def encrypt(plaintext: bytes, purpose: str) -> bytes:
    """Encrypt ``plaintext`` for storage; ``purpose`` names the column."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(settings.BRIDGE_SECRET_KEY).encrypt(
        nonce, plaintext, purpose.encode()
    )
    return FORMAT_VERSION + nonce + sealed


def decrypt(stored: bytes, purpose: str) -> bytes:
    """Reverse :func:`encrypt`; raise :class:`SecretBoxError` on any mismatch."""
    stored = bytes(stored)
    if not stored.startswith(FORMAT_VERSION):
        raise SecretBoxError("unknown secret format")

    nonce = stored[1 : 1 + NONCE_BYTES]
    sealed = stored[1 + NONCE_BYTES :]
    try:
        return _cipher(settings.BRIDGE_SECRET_KEY).decrypt(
            nonce, sealed, purpose.encode()
        )
    except InvalidTag as exc:
        raise SecretBoxError(
            f"cannot decrypt {purpose}: wrong key or damaged data"
        ) from exc


def encrypt_text(value: str, purpose: str) -> bytes:
    return encrypt(value.encode(), purpose)


def decrypt_text(stored: bytes, purpose: str) -> str:
    return decrypt(stored, purpose).decode()


def seal_compressed(plaintext: bytes, purpose: str) -> bytes:
    """Compress then encrypt: for message bodies and search text."""
    return encrypt(zlib.compress(plaintext, 6), purpose)


def open_compressed(stored: bytes, purpose: str) -> bytes:
    return zlib.decompress(decrypt(stored, purpose))
