"""Server side of the provider's SRP login (auth version 4) and key passphrases.

All big numbers travel as little-endian byte strings of the modulus size.
Hashes are "expanded" SHA-512: four SHA-512 digests of the input followed by
the bytes 0, 1, 2 and 3, concatenated into 256 bytes. The password is first
run through bcrypt ($2y$, cost 10) with the salt ``salt || "proton"``, then
expanded together with the modulus.
"""

import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

import bcrypt

logger = logging.getLogger(__name__)

BIT_LENGTH = 2048
BYTE_LENGTH = BIT_LENGTH // 8
GENERATOR = 2

# A 2048-bit safe prime N = 2q + 1 with N = 3 (mod 8), generated for this
# provider: 2 then generates the whole group, which the client checks.
MODULUS = int(
    "fd141708a4c51da25bfee604cf934b0547bea951da538bd19fd911355842495d"
    "962cf6ca14fc062a7c2ac300fbf920fe640443a1fef584f04d67648ddc49f9de"
    "5f2d45761cfdf11ca544f1119bec35316253e173e37d8436bffe971df0203d11"
    "21f1ca254bf64367091582269c68521ffcb23557491f22d258c86c7ce47b62b4"
    "747a87b72518ea5dc2641055da86914ce139343b75670a35bc7bd83a68cc376b"
    "428ed34b25278a151171db7db6e5152cc5d0a158c3f89a5bc48ab78ea7964e84"
    "77793433e92fc1ce6b4fe99a1bdc2b17beeb77e984e287d91a00297e8c52b1c9"
    "8ecc9f7d3b21d7c781b012aaa83935baddcc027c1248d3909a79d49195b336f3",
    16,
)

# Bcrypt writes base64 with its own alphabet and no padding.
_STANDARD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT = str.maketrans(_STANDARD_ALPHABET, _BCRYPT_ALPHABET)

# bcrypt only looks at the first 72 bytes; newer bcrypt builds refuse longer input.
_BCRYPT_MAX_PASSWORD = 72


class SRPError(Exception):
    """The client's SRP values are malformed or its proof is wrong."""


def to_bytes(number: int, length: int = BYTE_LENGTH) -> bytes:
    return number.to_bytes(length, "little")


def from_bytes(data: bytes) -> int:
    return int.from_bytes(data, "little")


def modulus_bytes(modulus: int = MODULUS) -> bytes:
    return to_bytes(modulus)


def expand_hash(data: bytes) -> bytes:
    return b"".join(
        hashlib.sha512(data + bytes([index])).digest() for index in range(4)
    )


def bcrypt_base64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii").rstrip("=")
    return encoded.translate(_TO_BCRYPT)


def bcrypt_hash(password: bytes, encoded_salt: str) -> bytes:
    """Bcrypt with the $2y$ prefix and cost 10, as the provider's clients use."""
    setting = ("$2y$10$" + encoded_salt).encode("ascii")
    return bcrypt.hashpw(password[:_BCRYPT_MAX_PASSWORD], setting)


def hash_password(password: bytes, salt: bytes, modulus: bytes) -> bytes:
    """The auth-version-4 password hash x (as bytes) for an SRP salt."""
    if not password:
        raise SRPError("an empty password cannot be hashed")

    hashed = bcrypt_hash(password, bcrypt_base64(salt + b"proton"))
    return expand_hash(hashed + modulus)


def compute_verifier(password: bytes, salt: bytes, modulus: int = MODULUS) -> bytes:
    """The verifier g^x mod N that the server stores instead of the password."""
    x = from_bytes(hash_password(password, salt, modulus_bytes(modulus)))
    return to_bytes(pow(GENERATOR, x, modulus))


def key_passphrase(password: bytes, key_salt: bytes) -> str:
    """The passphrase locking a user key: the last 31 characters of bcrypt."""
    hashed = bcrypt_hash(password, bcrypt_base64(key_salt))
    return hashed[-31:].decode("ascii")


def multiplier(modulus: int = MODULUS) -> int:
    generator_and_modulus = to_bytes(GENERATOR) + to_bytes(modulus)
    return from_bytes(expand_hash(generator_and_modulus)) % modulus


@dataclass
class ServerSession:
    """One SRP exchange between auth/info and auth."""

    user_id: str | None
    verifier: int
    secret: int
    server_ephemeral: bytes
    created: float
    modulus: int = MODULUS

    @classmethod
    def start(cls, user_id: str | None, verifier: bytes) -> "ServerSession":
        modulus = MODULUS
        verifier_number = from_bytes(verifier)

        while True:
            secret = secrets.randbelow(modulus - 1)
            if secret > BIT_LENGTH * 2:
                break

        ephemeral = (
            multiplier(modulus) * verifier_number + pow(GENERATOR, secret, modulus)
        ) % modulus
        return cls(
            user_id=user_id,
            verifier=verifier_number,
            secret=secret,
            server_ephemeral=to_bytes(ephemeral),
            created=time.monotonic(),
        )

    def verify(self, client_ephemeral: bytes, client_proof: bytes) -> bytes:
        """Check the client's proof and return the server proof."""
        modulus = self.modulus

        if len(client_ephemeral) != BYTE_LENGTH or len(client_proof) != 256:
            raise SRPError("client ephemeral or proof has the wrong length")

        client_number = from_bytes(client_ephemeral)
        if client_number <= 1 or client_number >= modulus - 1:
            raise SRPError("client ephemeral is out of bounds")

        scrambler = from_bytes(expand_hash(client_ephemeral + self.server_ephemeral))
        if scrambler == 0:
            raise SRPError("client ephemeral is invalid")

        base = client_number * pow(self.verifier, scrambler, modulus) % modulus
        shared = to_bytes(pow(base, self.secret, modulus))

        expected = expand_hash(client_ephemeral + self.server_ephemeral + shared)
        if not hmac.compare_digest(expected, client_proof):
            raise SRPError("client proof does not match")

        return expand_hash(client_ephemeral + client_proof + shared)
