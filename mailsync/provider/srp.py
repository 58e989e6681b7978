"""The provider's SRP-6a login scheme and its password hashing.

Every big number travels as a little-endian byte string as long as the
modulus (2048 bits). Hashes are the 256-byte "expanded" SHA-512 of the
provider. Auth versions 3 and 4 hash the password with bcrypt ($2y$, cost 10)
over a salt made of the account salt and the word "proton", then hash that
together with the modulus.

Client side only: ``compute_proofs`` gives the ephemeral and proof to send,
and the server proof to expect back. ``compute_verifier`` exists for tests
and for a provider that needs to store one.
"""

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

import bcrypt

from mailsync.provider import pgp
from mailsync.provider.errors import SignatureError, SRPError

logger = logging.getLogger(__name__)

MODULUS_BITS = 2048
MODULUS_BYTES = MODULUS_BITS // 8
GENERATOR = 2

# bcrypt only looks at the first 72 bytes; the bcrypt package refuses longer
# input instead of cutting it, so cut it the way the provider's library does.
BCRYPT_MAX_PASSWORD = 72

_STANDARD_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT_B64 = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT_ALPHABET = bytes.maketrans(_STANDARD_B64, _BCRYPT_B64)


@dataclass(frozen=True)
class SRPProofs:
    """What the client sends (ephemeral, proof) and the server proof it expects."""

    client_ephemeral: bytes
    client_proof: bytes
    expected_server_proof: bytes


def bcrypt_base64(data: bytes) -> str:
    """Encode bytes in bcrypt's own base64 alphabet, without padding."""
    standard = base64.b64encode(data).rstrip(b"=")
    return standard.translate(_TO_BCRYPT_ALPHABET).decode("ascii")


def expand_hash(data: bytes) -> bytes:
    """SHA-512 of data followed by 0, 1, 2 and 3, concatenated (256 bytes)."""
    return b"".join(hashlib.sha512(data + bytes([i])).digest() for i in range(4))


def to_int(little_endian: bytes) -> int:
    return int.from_bytes(little_endian, "little")


def from_int(number: int, length: int = MODULUS_BYTES) -> bytes:
    return number.to_bytes(length, "little")


def bcrypt_hash(password: bytes, encoded_salt: str) -> bytes:
    """The full bcrypt string ``$2y$10$<salt><hash>`` the provider hashes."""
    setting = f"$2y$10${encoded_salt}".encode("ascii")
    return bcrypt.hashpw(password[:BCRYPT_MAX_PASSWORD], setting)


def hash_password(
    password: bytes, salt: bytes, modulus: bytes, version: int = 4
) -> bytes:
    """Hash a password for auth versions 3 and 4 (the only ones in use)."""
    if version not in (3, 4):
        raise SRPError(f"auth version {version} is not supported")

    if not password:
        raise SRPError("the password is empty")

    hashed = bcrypt_hash(password, bcrypt_base64(salt + b"proton"))
    return expand_hash(hashed + modulus)


def mailbox_password(password: bytes, key_salt: bytes) -> bytes:
    """The passphrase of the user's keys: the last 31 characters of bcrypt."""
    hashed = bcrypt_hash(password, bcrypt_base64(key_salt))
    return hashed[-31:]


def compute_verifier(password: bytes, salt: bytes, modulus: bytes) -> bytes:
    """The verifier g^x mod N a provider stores (little-endian bytes)."""
    hashed = to_int(hash_password(password, salt, modulus))
    return from_int(pow(GENERATOR, hashed, to_int(modulus)))


def _check_modulus(modulus: int) -> None:
    if modulus.bit_length() != MODULUS_BITS:
        raise SRPError("the SRP modulus has the wrong size")

    # A safe prime with 2 as a generator of the whole group is 3 mod 8.
    if modulus % 8 != 3:
        raise SRPError("the SRP modulus is not 3 mod 8")

    # Lucas-style check: 2^((N-1)/2) = -1 (mod N) for a safe prime N with
    # generator 2. A forged modulus fails it.
    if pow(GENERATOR, (modulus - 1) // 2, modulus) != modulus - 1:
        raise SRPError("the SRP modulus is not prime")


def _multiplier(modulus: int) -> int:
    k = to_int(expand_hash(from_int(GENERATOR) + from_int(modulus))) % modulus
    if k <= 1 or k >= modulus - 1:
        raise SRPError("the SRP multiplier is out of bounds")
    return k


def compute_proofs(
    hashed_password: bytes,
    modulus_bytes: bytes,
    server_ephemeral_bytes: bytes,
    *,
    client_secret: int | None = None,
) -> SRPProofs:
    """Compute the client's side of one SRP exchange.

    ``client_secret`` is only for tests that need a fixed exchange.
    """
    modulus = to_int(modulus_bytes)
    server_ephemeral = to_int(server_ephemeral_bytes)
    _check_modulus(modulus)

    if server_ephemeral <= 1 or server_ephemeral >= modulus - 1:
        raise SRPError("the server ephemeral is out of bounds")

    x = to_int(hashed_password)
    k = _multiplier(modulus)

    while True:
        a = client_secret
        if a is None:
            a = secrets.randbelow(modulus - 1)
        if not MODULUS_BITS * 2 < a < modulus - 1:
            if client_secret is not None:
                raise SRPError("the client secret is out of bounds")
            continue

        client_ephemeral = from_int(pow(GENERATOR, a, modulus))
        u = to_int(expand_hash(client_ephemeral + server_ephemeral_bytes))
        if u != 0:
            break
        if client_secret is not None:
            raise SRPError("the scrambling parameter is zero")

    base = (server_ephemeral - k * pow(GENERATOR, x, modulus)) % modulus
    exponent = (u * x + a) % (modulus - 1)
    shared = from_int(pow(base, exponent, modulus))

    client_proof = expand_hash(client_ephemeral + server_ephemeral_bytes + shared)
    server_proof = expand_hash(client_ephemeral + client_proof + shared)
    return SRPProofs(client_ephemeral, client_proof, server_proof)


def check_server_proof(proofs: SRPProofs, server_proof: bytes) -> None:
    """Raise unless the server proved it knows the verifier."""
    if not hmac.compare_digest(proofs.expected_server_proof, server_proof):
        logger.warning("the server's SRP proof does not match")
        raise SRPError("the server's SRP proof does not match")


def verify_modulus(signed_armored: str, trusted_pubkey_armored: str) -> bytes:
    """The modulus bytes from the provider's signed message, if the signature holds.

    Raises ``SRPError`` when the signature is not by the trusted key or the
    content is not a base64 modulus of the right size.
    """
    try:
        text = pgp.verify_cleartext(signed_armored, trusted_pubkey_armored)
    except SignatureError as exc:
        logger.warning("refusing an SRP modulus: %s", exc)
        raise SRPError(f"the SRP modulus is not signed by the provider: {exc}") from exc

    try:
        modulus = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise SRPError("the signed SRP modulus is not base64") from exc

    if len(modulus) != MODULUS_BYTES:
        raise SRPError("the signed SRP modulus has the wrong size")
    return modulus
