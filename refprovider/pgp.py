"""OpenPGP for the reference provider, on top of PGPy.

Keys are ECC (an Ed25519 primary key with a Curve25519 encryption subkey),
which PGPy generates in milliseconds. Messages are handled the way the
provider stores them: an encrypted message is a run of key packets (one per
recipient key) followed by one symmetrically encrypted data packet, and the
two halves can be stored, sent and joined again separately.
"""

import functools
import logging
import warnings
from dataclasses import dataclass

import pgpy
from pgpy.constants import (
    CompressionAlgorithm,
    EllipticCurveOID,
    HashAlgorithm,
    KeyFlags,
    PubKeyAlgorithm,
    SymmetricKeyAlgorithm,
)
from pgpy.packet import Packet

logger = logging.getLogger(__name__)

# PGPy still references ciphers that cryptography moved to "decrepit".
warnings.filterwarnings("ignore", module="pgpy")
warnings.filterwarnings("ignore", message="Selected compression algorithm")

TAG_PKESK = 1
TAG_SKESK = 3
TAG_SED = 9
TAG_SEIPD = 18
TAG_AEAD = 20
_KEY_PACKET_TAGS = {TAG_PKESK, TAG_SKESK}
_DATA_PACKET_TAGS = {TAG_SED, TAG_SEIPD, TAG_AEAD}

S2K_CODED_COUNT = 96

# Session key algorithm names as the provider's clients spell them.
ALGORITHM_NAMES = {
    SymmetricKeyAlgorithm.AES128: "aes128",
    SymmetricKeyAlgorithm.AES192: "aes192",
    SymmetricKeyAlgorithm.AES256: "aes256",
    SymmetricKeyAlgorithm.TripleDES: "3des",
    SymmetricKeyAlgorithm.CAST5: "cast5",
}
ALGORITHMS_BY_NAME = {name: algo for algo, name in ALGORITHM_NAMES.items()}


class PGPFailure(Exception):
    """An OpenPGP operation failed (bad key, bad packet, wrong passphrase)."""


@dataclass(frozen=True)
class GeneratedKey:
    private_armored: str
    public_armored: str
    fingerprint: str


@dataclass(frozen=True)
class SessionKey:
    algorithm: str
    key: bytes


def generate_key(name: str, email: str, passphrase: str) -> GeneratedKey:
    """Generate an Ed25519 + Curve25519 key locked with a passphrase."""
    primary = pgpy.PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519)
    user_id = pgpy.PGPUID.new(name, email=email)
    primary.add_uid(
        user_id,
        usage={KeyFlags.Sign, KeyFlags.Certify},
        hashes=[HashAlgorithm.SHA256, HashAlgorithm.SHA512],
        ciphers=[SymmetricKeyAlgorithm.AES256, SymmetricKeyAlgorithm.AES128],
        compression=[
            CompressionAlgorithm.ZLIB,
            CompressionAlgorithm.ZIP,
            CompressionAlgorithm.Uncompressed,
        ],
    )

    subkey = pgpy.PGPKey.new(PubKeyAlgorithm.ECDH, EllipticCurveOID.Curve25519)
    primary.add_subkey(
        subkey, usage={KeyFlags.EncryptCommunications, KeyFlags.EncryptStorage}
    )

    _protect(primary, passphrase)
    return GeneratedKey(
        private_armored=str(primary),
        public_armored=str(primary.pubkey),
        fingerprint=fingerprint_of(primary),
    )


def _protect(key: pgpy.PGPKey, passphrase: str) -> None:
    # PGPy always uses the largest S2K count (65 MB of hashing per unlock).
    # Keys in the field commonly use 65536 bytes (coded 96); use that so that
    # every unlock does not cost a tenth of a second.
    hash_algorithm = HashAlgorithm.SHA256
    previous = hash_algorithm._tuned_count
    hash_algorithm._tuned_count = S2K_CODED_COUNT
    try:
        key.protect(passphrase, SymmetricKeyAlgorithm.AES256, hash_algorithm)
    finally:
        hash_algorithm._tuned_count = previous


def fingerprint_of(key: pgpy.PGPKey) -> str:
    return str(key.fingerprint).replace(" ", "").lower()


@functools.lru_cache(maxsize=512)
def load_key(armored: str) -> pgpy.PGPKey:
    try:
        key, _ = pgpy.PGPKey.from_blob(armored)
    except (ValueError, TypeError, NotImplementedError) as error:
        raise PGPFailure(f"cannot read key: {error}") from error
    return key


def public_key(armored: str) -> str:
    key = load_key(armored)
    return str(key.pubkey) if not key.is_public else str(key)


def encrypt(
    data: bytes, public_armored: str, *, signer: tuple[str, str] | None = None
) -> pgpy.PGPMessage:
    """Encrypt bytes to a key; signer is (private key, passphrase) when given."""
    recipient = load_key(public_armored)
    message = pgpy.PGPMessage.new(
        data, compression=CompressionAlgorithm.Uncompressed, file=False
    )

    if signer is not None:
        private_armored, passphrase = signer
        key = load_key(private_armored)
        with key.unlock(passphrase):
            message |= key.sign(message)

    target = recipient.pubkey if not recipient.is_public else recipient
    return target.encrypt(message, cipher=SymmetricKeyAlgorithm.AES256)


def encrypt_armored(
    data: bytes, public_armored: str, *, signer: tuple[str, str] | None = None
) -> str:
    return str(encrypt(data, public_armored, signer=signer))


def encrypt_split(data: bytes, public_armored: str) -> tuple[bytes, bytes]:
    """Encrypt bytes to a key and return (key packets, data packet)."""
    return split_message(bytes(encrypt(data, public_armored)))


def unarmor(data: bytes | str) -> bytes:
    """The binary form of an armored (or already binary) OpenPGP block."""
    if isinstance(data, str):
        data = data.encode("utf-8")

    if data.lstrip().startswith(b"-----BEGIN PGP"):
        try:
            unarmored = pgpy.PGPMessage.ascii_unarmor(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise PGPFailure(f"bad armor: {error}") from error
        return bytes(unarmored["body"])

    return data


def iter_packets(data: bytes) -> list[tuple[int, int, int]]:
    """List (tag, start, end) of each top-level packet of a binary message."""
    packets = []
    offset = 0

    while offset < len(data):
        start = offset
        header = data[offset]
        if not header & 0x80:
            raise PGPFailure("not an OpenPGP packet")
        offset += 1

        if header & 0x40:
            tag = header & 0x3F
            offset = _skip_new_format_body(data, offset)
        else:
            tag = (header >> 2) & 0x0F
            offset = _skip_old_format_body(data, offset, header & 0x03)

        if offset > len(data):
            raise PGPFailure("truncated OpenPGP packet")
        packets.append((tag, start, offset))

    return packets


def _skip_new_format_body(data: bytes, offset: int) -> int:
    while True:
        first = data[offset]
        if first < 192:
            return offset + 1 + first
        if first < 224:
            length = ((first - 192) << 8) + data[offset + 1] + 192
            return offset + 2 + length
        if first == 255:
            length = int.from_bytes(data[offset + 1 : offset + 5], "big")
            return offset + 5 + length

        # A partial body length: this chunk, then another length header.
        offset += 1 + (1 << (first & 0x1F))


def _skip_old_format_body(data: bytes, offset: int, length_type: int) -> int:
    if length_type == 3:
        return len(data)

    size = {0: 1, 1: 2, 2: 4}[length_type]
    length = int.from_bytes(data[offset : offset + size], "big")
    return offset + size + length


def split_message(data: bytes | str) -> tuple[bytes, bytes]:
    """Split an encrypted message into (key packets, data packet)."""
    binary = unarmor(data)
    key_packets = bytearray()
    data_packet = None

    for tag, start, end in iter_packets(binary):
        if tag in _KEY_PACKET_TAGS:
            key_packets += binary[start:end]
        elif tag in _DATA_PACKET_TAGS and data_packet is None:
            data_packet = binary[start:end]

    if data_packet is None:
        raise PGPFailure("the message has no encrypted data packet")

    return bytes(key_packets), data_packet


def join_armored(key_packets: bytes, data_packet: bytes) -> str:
    """Armor key packets and a data packet back into one PGP message."""
    try:
        message = pgpy.PGPMessage.from_blob(key_packets + data_packet)
    except (
        ValueError,
        TypeError,
        NotImplementedError,
        pgpy.errors.PGPError,
    ) as error:
        raise PGPFailure(f"cannot join message packets: {error}") from error
    return str(message)


def decrypt(data: bytes | str, private_armored: str, passphrase: str) -> bytes:
    """Decrypt an armored or binary message with a private key."""
    try:
        message = pgpy.PGPMessage.from_blob(unarmor(data))
        key = load_key(private_armored)
        with key.unlock(passphrase):
            plain = key.decrypt(message)
    except PGPFailure:
        raise
    except (ValueError, TypeError, NotImplementedError, pgpy.errors.PGPError) as error:
        raise PGPFailure(f"cannot decrypt: {error}") from error

    return _message_bytes(plain)


def _message_bytes(message: pgpy.PGPMessage) -> bytes:
    content = message.message
    if isinstance(content, str):
        return content.encode("utf-8")
    return bytes(content)


def _key_for_packet(key: pgpy.PGPKey, key_id: str) -> pgpy.PGPKey:
    if key.fingerprint.keyid == key_id:
        return key
    for subkey_id, subkey in key.subkeys.items():
        if subkey_id == key_id:
            return subkey
    raise PGPFailure("the key packet is not for this key")


def decrypt_session_key(
    key_packets: bytes, private_armored: str, passphrase: str
) -> SessionKey:
    """Recover the session key of a key packet with the recipient's key."""
    key = load_key(private_armored)

    for tag, start, end in iter_packets(key_packets):
        if tag != TAG_PKESK:
            continue

        packet = Packet(bytearray(key_packets[start:end]))
        try:
            target = _key_for_packet(key, packet.encrypter)
        except PGPFailure:
            continue

        with key.unlock(passphrase):
            # PGPy keeps the raw key material on _key; there is no public API
            # for decrypting a lone key packet.
            algorithm, session_key = packet.decrypt_sk(target._key)

        return SessionKey(ALGORITHM_NAMES[algorithm], bytes(session_key))

    raise PGPFailure("no key packet matches this key")


def encrypt_session_key(session_key: SessionKey, public_armored: str) -> bytes:
    """A key packet carrying an existing session key to another key."""
    algorithm = ALGORITHMS_BY_NAME.get(session_key.algorithm.lower())
    if algorithm is None:
        raise PGPFailure(f"unknown session key algorithm {session_key.algorithm!r}")

    recipient = load_key(public_armored)
    target = recipient.pubkey if not recipient.is_public else recipient
    wrapped = target.encrypt(
        pgpy.PGPMessage.new(b"", file=False),
        sessionkey=session_key.key,
        cipher=algorithm,
    )
    key_packets, _ = split_message(bytes(wrapped))
    return key_packets


def decrypt_with_session_key(data_packet: bytes, session_key: SessionKey) -> bytes:
    """Decrypt a lone data packet with a known session key."""
    algorithm = ALGORITHMS_BY_NAME.get(session_key.algorithm.lower())
    if algorithm is None:
        raise PGPFailure(f"unknown session key algorithm {session_key.algorithm!r}")

    try:
        message = pgpy.PGPMessage.from_blob(data_packet)
        plain = pgpy.PGPMessage()
        plain.parse(message.message.decrypt(session_key.key, algorithm))
    except (ValueError, TypeError, NotImplementedError, pgpy.errors.PGPError) as error:
        raise PGPFailure(f"cannot decrypt with the session key: {error}") from error

    return _message_bytes(plain)


def sign_detached(data: bytes, private_armored: str, passphrase: str) -> str:
    key = load_key(private_armored)
    with key.unlock(passphrase):
        signature = key.sign(pgpy.PGPMessage.new(data, file=False))
    return str(signature)


def signature_binary(armored_or_binary: bytes | str) -> bytes:
    return unarmor(armored_or_binary)


def armor_signature(binary: bytes) -> str:
    try:
        return str(pgpy.PGPSignature.from_blob(binary))
    except (ValueError, TypeError, NotImplementedError) as error:
        raise PGPFailure(f"cannot read signature: {error}") from error


def verify_detached(data: bytes, signature: str, public_armored: str) -> bool:
    key = load_key(public_armored)
    try:
        return bool(key.verify(data, pgpy.PGPSignature.from_blob(signature)))
    except (ValueError, TypeError, pgpy.errors.PGPError):
        return False


def cleartext_sign(text: str, private_armored: str, passphrase: str) -> str:
    """A cleartext-signed message (BEGIN PGP SIGNED MESSAGE)."""
    key = load_key(private_armored)
    message = pgpy.PGPMessage.new(text, cleartext=True)
    with key.unlock(passphrase):
        message |= key.sign(message, hash=HashAlgorithm.SHA256)
    return str(message)


def verify_cleartext(signed: str, public_armored: str) -> str:
    """Return the text of a cleartext-signed message if the signature holds."""
    key = load_key(public_armored)
    try:
        message = pgpy.PGPMessage.from_blob(signed)
    except (ValueError, TypeError) as error:
        raise PGPFailure(f"cannot read signed message: {error}") from error

    if not key.verify(message):
        raise PGPFailure("the signature does not verify")
    return str(message.message)
