"""All OpenPGP work of the bridge, on top of PGPy.

The provider keeps mail encrypted to per-address keys. Those keys are locked
with passphrases that the user key unlocks (``Token`` and ``Signature`` on
the address key), and the user key is locked with a passphrase derived from
the mailbox password (see ``srp.mailbox_password``).

Unlocked keys live in memory only, inside a ``KeyRing``. Nothing here writes
a key, passphrase or plaintext anywhere, or logs one.

Messages on the wire are often split: a "key packet" (the session key,
encrypted to a public key) and a "data packet" (the content, encrypted with
the session key). Attachments and sent packages use that split, so the
session key can be re-encrypted to each recipient without touching the data.
"""

import base64
import binascii
import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    # PGPy 0.6 touches cipher names that cryptography has moved; harmless.
    warnings.simplefilter("ignore")
    import pgpy
    from pgpy.constants import (
        CompressionAlgorithm,
        HashAlgorithm,
        PubKeyAlgorithm,
        SymmetricKeyAlgorithm,
    )
    from pgpy.errors import (
        PGPDecryptionError,
        PGPEncryptionError,
        PGPError,
        PGPOpenSSLCipherNotSupportedError,
    )
    from pgpy.packet import Packet
    from pgpy.packet.packets import (
        IntegrityProtectedSKEData,
        IntegrityProtectedSKEDataV1,
        LiteralData,
        PKESessionKey,
    )

from mailsync.provider.errors import (
    CryptoError,
    DecryptionError,
    KeyUnlockError,
    SignatureError,
)
from mailsync.provider.types import (
    SCHEME_CLEAR_MIME,
    SCHEME_INTERNAL,
    SCHEME_PGP_INLINE,
    SCHEME_PGP_MIME,
    SIGNATURE_DETACHED,
    Address,
    Key,
    User,
)

logger = logging.getLogger(__name__)

# PGPy's own exceptions do not share a base class; catch them together.
_PGPY_ERRORS = (
    PGPError,
    PGPDecryptionError,
    PGPEncryptionError,
    PGPOpenSSLCipherNotSupportedError,
    ValueError,
    IndexError,
    TypeError,
    NotImplementedError,
    binascii.Error,
)

# Every call into PGPy's symmetric code warns about the same moved names, and
# PGPy warns when a cipher is not in a key's preference list (ours always
# are AES). Neither says anything about our data.
warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
warnings.filterwarnings("ignore", message="Selected .* not in key preferences")
# PGPy reminds itself of checks it does not make (self-signatures,
# revocations) on every verification; we rely on neither.
warnings.filterwarnings("ignore", message=r".*not yet (working|implemented)")

SESSION_CIPHERS = {
    "aes128": SymmetricKeyAlgorithm.AES128,
    "aes192": SymmetricKeyAlgorithm.AES192,
    "aes256": SymmetricKeyAlgorithm.AES256,
}
_CIPHER_NAMES = {algorithm: name for name, algorithm in SESSION_CIPHERS.items()}

DEFAULT_CIPHER = "aes256"

_ENCRYPTION_ALGORITHMS = {
    PubKeyAlgorithm.ECDH,
    PubKeyAlgorithm.RSAEncryptOrSign,
    PubKeyAlgorithm.RSAEncrypt,
}


@dataclass(frozen=True)
class SessionKey:
    """A symmetric key and its algorithm, as the API names it ("aes256")."""

    key: bytes
    algorithm: str = DEFAULT_CIPHER

    def __repr__(self) -> str:
        return f"SessionKey(algorithm={self.algorithm!r})"

    @property
    def cipher(self) -> SymmetricKeyAlgorithm:
        try:
            return SESSION_CIPHERS[self.algorithm]
        except KeyError:
            raise CryptoError(f"unsupported cipher {self.algorithm}") from None

    def to_api(self) -> dict[str, str]:
        """The ``{Key, Algorithm}`` object of a clear send package."""
        return {"Key": base64.b64encode(self.key).decode(), "Algorithm": self.algorithm}


@dataclass(frozen=True)
class SplitMessage:
    """An encrypted message cut into its key packets and its data packet."""

    key_packets: bytes
    data_packet: bytes

    @property
    def key_packets_b64(self) -> str:
        return base64.b64encode(self.key_packets).decode()


def generate_session_key(algorithm: str = DEFAULT_CIPHER) -> SessionKey:
    """A fresh random session key."""
    cipher = SessionKey(b"", algorithm).cipher
    return SessionKey(bytes(cipher.gen_key()), algorithm)


def _parse_key(armored: str | bytes) -> pgpy.PGPKey:
    try:
        key, _ = pgpy.PGPKey.from_blob(armored)
    except _PGPY_ERRORS as exc:
        raise CryptoError(f"not an OpenPGP key: {exc}") from exc
    return key


def _parse_message(data: str | bytes) -> pgpy.PGPMessage:
    try:
        message = pgpy.PGPMessage()
        message.parse(bytearray(dearmor(data)))
    except _PGPY_ERRORS as exc:
        raise DecryptionError(f"not an OpenPGP message: {exc}") from exc
    return message


_ARMOR_BEGIN = re.compile(rb"^-----BEGIN PGP ([A-Z0-9 ,]+)-----\r?$", re.MULTILINE)
_ARMOR_LINE = 76


def dearmor(data: str | bytes) -> bytes:
    """The binary packets inside ASCII armor (binary input is returned as is).

    The CRC24 footer is not checked: it is optional (RFC 9580, section 6.1),
    the integrity check inside encrypted data is what counts, and PGPy's
    pure-Python CRC takes seconds on a large message.
    """
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    begin = _ARMOR_BEGIN.search(raw[:4096])
    if begin is None:
        return raw

    # The match stops before the header line's own line break.
    lines = raw[begin.end() :].splitlines()[1:]
    index = 0
    # Armor headers ("Version: ...") run up to the first blank line.
    while index < len(lines) and lines[index].strip() and b": " in lines[index]:
        index += 1
    if index < len(lines) and not lines[index].strip():
        index += 1

    body = []
    for line in lines[index:]:
        # Padding ends a base64 line, so only the checksum line starts with "=".
        if line.startswith((b"=", b"-----END")):
            break
        body.append(line.strip())
    try:
        return base64.b64decode(b"".join(body), validate=True)
    except binascii.Error as exc:
        raise DecryptionError(f"malformed ASCII armor: {exc}") from exc


def _crc24_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
        table.append(crc & 0xFFFFFF)
    return table


_CRC24_TABLE = _crc24_table()


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    table = _CRC24_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ table[(crc >> 16) ^ byte]
    return crc


def armor(binary: bytes, kind: str = "MESSAGE") -> str:
    """ASCII armor with a CRC24 footer (PGPy refuses armor without one)."""
    encoded = base64.b64encode(binary).decode("ascii")
    lines = [encoded[i : i + _ARMOR_LINE] for i in range(0, len(encoded), _ARMOR_LINE)]
    checksum = base64.b64encode(_crc24(binary).to_bytes(3, "big")).decode("ascii")
    return "\n".join(
        [f"-----BEGIN PGP {kind}-----", "", *lines, f"={checksum}"]
        + [f"-----END PGP {kind}-----", ""]
    )


def _unlock_in_place(key: pgpy.PGPKey, passphrase: str | bytes) -> None:
    # PGPy's ``unlock`` is a context manager that wipes the secret material
    # on exit. The bridge decrypts for as long as the account is logged in,
    # so unprotect each packet once and keep it that way, in memory only.
    if key.is_public:
        raise KeyUnlockError("a public key cannot be unlocked")

    if not key.is_protected:
        return

    try:
        key._key.unprotect(passphrase)
        for subkey in key.subkeys.values():
            if subkey.is_protected:
                subkey._key.unprotect(passphrase)
    except _PGPY_ERRORS as exc:
        raise KeyUnlockError("the passphrase does not unlock this key") from exc

    if not key.is_unlocked:
        raise KeyUnlockError("the passphrase does not unlock this key")


def _literal_bytes(message: pgpy.PGPMessage) -> bytes:
    literal = message._message
    if not isinstance(literal, LiteralData):
        raise DecryptionError("the decrypted message holds no literal data")
    # ``contents`` decodes text-mode literals; the raw bytes are what we need.
    return bytes(literal._contents)


def _packets(data: bytes) -> list:
    buffer = bytearray(data)
    packets = []
    while buffer:
        packets.append(Packet(buffer))
    return packets


class PublicKey:
    """A recipient's public key, to encrypt session keys to it."""

    def __init__(self, armored: str | bytes) -> None:
        self._key = _parse_key(armored)
        if not self._key.is_public:
            self._key = self._key.pubkey

    @property
    def fingerprint(self) -> str:
        return str(self._key.fingerprint).replace(" ", "")

    def encrypt_session_key(self, session_key: SessionKey) -> bytes:
        """The key packet that gives ``session_key`` to this key's owner."""
        empty = pgpy.PGPMessage.new(b"", compression=CompressionAlgorithm.Uncompressed)
        try:
            encrypted = self._key.encrypt(
                empty, sessionkey=session_key.key, cipher=session_key.cipher
            )
        except _PGPY_ERRORS as exc:
            raise CryptoError(f"cannot encrypt to this key: {exc}") from exc
        return b"".join(bytes(packet) for packet in encrypted._sessionkeys)

    def verify_detached(self, data: bytes, signature: str | bytes) -> None:
        """Raise ``SignatureError`` unless ``signature`` signs ``data``."""
        _verify_detached([self._key], data, signature)


def _verify_detached(
    keys: list[pgpy.PGPKey], data: bytes, signature: str | bytes
) -> None:
    try:
        parsed = pgpy.PGPSignature.from_blob(signature)
    except _PGPY_ERRORS as exc:
        raise SignatureError(f"not an OpenPGP signature: {exc}") from exc

    for key in keys:
        if parsed.signer not in _key_ids(key):
            continue
        try:
            if key.verify(data, parsed):
                return
        except _PGPY_ERRORS as exc:
            raise SignatureError(f"the signature cannot be checked: {exc}") from exc

    raise SignatureError("the signature does not verify")


def _key_ids(key: pgpy.PGPKey) -> set[str]:
    return {key.fingerprint.keyid, *key.subkeys.keys()}


class KeyRing:
    """Unlocked private keys of one user or one address; the first is primary."""

    def __init__(self, keys: list[pgpy.PGPKey]) -> None:
        if not keys:
            raise KeyUnlockError("no key could be unlocked")
        self._keys = keys
        # Key packets name the (sub)key they are encrypted to; index them so a
        # decryption goes straight to the right key.
        self._by_key_id: dict[str, pgpy.PGPKey] = {}
        for key in keys:
            self._by_key_id[key.fingerprint.keyid] = key
            for key_id, subkey in key.subkeys.items():
                self._by_key_id[key_id] = subkey

    def __repr__(self) -> str:
        return f"KeyRing({len(self._keys)} keys)"

    def __len__(self) -> int:
        return len(self._keys)

    @classmethod
    def unlock(
        cls,
        armored_keys: Sequence[str | bytes],
        passphrases: Sequence[str | bytes],
    ) -> "KeyRing":
        """Unlock each key with its passphrase; keys that fail are skipped.

        The first key that unlocks is the primary one, so pass the primary
        key first.
        """
        unlocked = []
        for armored, passphrase in zip(armored_keys, passphrases, strict=True):
            try:
                key = _parse_key(armored)
                _unlock_in_place(key, passphrase)
            except CryptoError as exc:
                logger.warning("skipping a key that does not unlock: %s", exc)
                continue
            unlocked.append(key)
        return cls(unlocked)

    @property
    def primary(self) -> pgpy.PGPKey:
        return self._keys[0]

    @property
    def fingerprints(self) -> list[str]:
        return [str(key.fingerprint).replace(" ", "") for key in self._keys]

    def public_key(self) -> PublicKey:
        """The primary public key, e.g. to attach to outgoing mail."""
        return PublicKey(str(self.primary.pubkey))

    def armored_public_key(self) -> str:
        return str(self.primary.pubkey)

    def decrypt_session_key(self, key_packets: bytes) -> SessionKey:
        """Find the key packet meant for one of our keys and open it."""
        try:
            packets = _packets(key_packets)
        except _PGPY_ERRORS as exc:
            raise DecryptionError(f"malformed key packets: {exc}") from exc

        for packet in packets:
            if not isinstance(packet, PKESessionKey):
                continue
            for key in self._keys_for(packet.encrypter):
                try:
                    cipher, key_bytes = packet.decrypt_sk(key._key)
                except _PGPY_ERRORS:
                    continue
                name = _CIPHER_NAMES.get(cipher)
                if name is None:
                    raise DecryptionError(f"unsupported session cipher {cipher!r}")
                return SessionKey(bytes(key_bytes), name)

        raise DecryptionError("no key of this keyring opens the key packets")

    def _keys_for(self, key_id: str | None) -> list[pgpy.PGPKey]:
        if key_id and key_id in self._by_key_id:
            return [self._by_key_id[key_id]]
        if key_id and key_id.strip("0"):
            return []
        # A wildcard (anonymous) recipient: any of our encryption keys.
        return [
            key
            for key in self._by_key_id.values()
            if key.key_algorithm in _ENCRYPTION_ALGORITHMS
        ]

    def decrypt(self, message: str | bytes) -> bytes:
        """Decrypt an armored or binary OpenPGP message to its plaintext."""
        parsed = _parse_message(message)
        if not parsed.is_encrypted:
            raise DecryptionError("the message is not encrypted")

        key_packets = b"".join(bytes(packet) for packet in parsed._sessionkeys)
        session_key = self.decrypt_session_key(key_packets)
        return _decrypt_data(parsed._message, session_key)

    def decrypt_split(self, key_packets: bytes, data_packet: bytes) -> bytes:
        """Decrypt an attachment: its key packets and its data packet."""
        session_key = self.decrypt_session_key(key_packets)
        return decrypt_with_session_key(data_packet, session_key)

    def encrypt(self, data: bytes, *, sign: bool = True) -> str:
        """Encrypt to our primary key (import, drafts); armored, signed."""
        split = self.encrypt_split(data, sign=sign)
        return armor(split.key_packets + split.data_packet)

    def encrypt_split(self, data: bytes, *, sign: bool = True) -> SplitMessage:
        """Encrypt to our primary key, keeping key and data packets apart."""
        session_key = generate_session_key()
        data_packet = encrypt_with_session_key(
            data, session_key, signer=self if sign else None
        )
        key_packets = self.public_key().encrypt_session_key(session_key)
        return SplitMessage(key_packets, data_packet)

    def sign_detached(self, data: bytes, *, armor: bool = False) -> bytes:
        """A detached binary-mode signature over ``data`` by our primary key."""
        try:
            signature = self.primary.sign(data, hash=HashAlgorithm.SHA256)
        except _PGPY_ERRORS as exc:
            raise CryptoError(f"cannot sign: {exc}") from exc
        return str(signature).encode() if armor else bytes(signature)

    def verify_detached(self, data: bytes, signature: str | bytes) -> None:
        """Raise ``SignatureError`` unless one of our keys signed ``data``."""
        _verify_detached(self._keys, data, signature)


def _decrypt_data(packet, session_key: SessionKey) -> bytes:
    if not isinstance(packet, IntegrityProtectedSKEData):
        # Unprotected (no MDC) data is refused, as current OpenPGP
        # implementations do: it cannot be told apart from tampered data.
        raise DecryptionError("the data packet is not integrity protected")

    try:
        plaintext = packet.decrypt(session_key.key, session_key.cipher)
        inner = pgpy.PGPMessage()
        inner.parse(plaintext)
    except _PGPY_ERRORS as exc:
        raise DecryptionError(f"the data packet does not decrypt: {exc}") from exc
    return _literal_bytes(inner)


def decrypt_with_session_key(data_packet: bytes, session_key: SessionKey) -> bytes:
    """Decrypt a lone data packet with a session key we already hold."""
    try:
        packets = _packets(data_packet)
    except _PGPY_ERRORS as exc:
        raise DecryptionError(f"malformed data packet: {exc}") from exc

    for packet in packets:
        if isinstance(packet, IntegrityProtectedSKEData):
            return _decrypt_data(packet, session_key)
    raise DecryptionError("no encrypted data packet found")


def encrypt_with_session_key(
    data: bytes,
    session_key: SessionKey,
    *,
    signer: KeyRing | None = None,
) -> bytes:
    """The data packet that holds ``data`` under ``session_key``.

    With ``signer``, the content carries that keyring's signature inside.
    """
    literal = pgpy.PGPMessage.new(
        data, compression=CompressionAlgorithm.Uncompressed, format="b"
    )
    if signer is not None:
        try:
            literal |= signer.primary.sign(literal, hash=HashAlgorithm.SHA256)
        except _PGPY_ERRORS as exc:
            raise CryptoError(f"cannot sign: {exc}") from exc

    packet = IntegrityProtectedSKEDataV1()
    packet.encrypt(session_key.key, session_key.cipher, bytes(literal))
    return bytes(packet)


def verify_cleartext(signed_armored: str, trusted_pubkey_armored: str) -> str:
    """Check a cleartext-signed message against one trusted key; its text.

    Raises ``SignatureError`` when the signature is missing, made by another
    key, or does not match the text.
    """
    try:
        key = _parse_key(trusted_pubkey_armored)
        message = pgpy.PGPMessage.from_blob(signed_armored)
    except (CryptoError, *_PGPY_ERRORS) as exc:
        raise SignatureError(f"cannot read the signed message: {exc}") from exc

    if message.type != "cleartext" or not message.is_signed:
        raise SignatureError("the message is not cleartext-signed")

    if not message.signers & _key_ids(key):
        raise SignatureError("the message is not signed by the trusted key")

    try:
        verified = key.verify(message)
    except _PGPY_ERRORS as exc:
        raise SignatureError(f"the signature cannot be checked: {exc}") from exc

    if not verified:
        raise SignatureError("the signature does not verify")
    return message.message


def decrypt_token(token_armored: str, signature_armored: str, user: KeyRing) -> str:
    """Open an address key's ``Token`` with the user keyring and check it."""
    passphrase = user.decrypt(token_armored)
    user.verify_detached(passphrase, signature_armored)
    return passphrase.decode("utf-8")


@dataclass
class UnlockedKeys:
    """The user keyring and one keyring per address whose keys unlocked."""

    user: KeyRing
    addresses: dict[str, KeyRing]

    def __repr__(self) -> str:
        return f"UnlockedKeys(addresses={sorted(self.addresses)})"

    def for_address(self, address_id: str) -> KeyRing:
        try:
            return self.addresses[address_id]
        except KeyError:
            raise KeyUnlockError(f"no unlocked key for address {address_id}") from None


def _primary_first(keys: list[Key]) -> list[Key]:
    active = [key for key in keys if key.active]
    return sorted(active, key=lambda key: not key.primary)


def unlock_keys(
    user: User, addresses: list[Address], key_passphrase: str | bytes
) -> UnlockedKeys:
    """Unlock the user keys, then every address's keys through them.

    An address key with a ``Token`` is locked with that token's content; an
    old-style key without one shares the user key passphrase.
    """
    user_keys = _primary_first(user.keys)
    user_ring = KeyRing.unlock(
        [key.private_key for key in user_keys], [key_passphrase] * len(user_keys)
    )

    rings = {}
    for address in addresses:
        armored: list[str] = []
        passphrases: list[str | bytes] = []
        for key in _primary_first(address.keys):
            passphrase: str | bytes
            if key.token and key.signature:
                try:
                    passphrase = decrypt_token(key.token, key.signature, user_ring)
                except CryptoError as exc:
                    logger.warning("address key %s: token refused: %s", key.id, exc)
                    continue
            else:
                passphrase = key_passphrase
            armored.append(key.private_key)
            passphrases.append(passphrase)

        try:
            rings[address.id] = KeyRing.unlock(armored, passphrases)
        except KeyUnlockError:
            logger.warning("no key of address %s unlocks", address.id)

    if addresses and not rings:
        raise KeyUnlockError("no address key could be unlocked")
    return UnlockedKeys(user_ring, rings)


_MIME_SCHEMES = {SCHEME_PGP_MIME, SCHEME_CLEAR_MIME}
_ENCRYPTED_SCHEMES = {SCHEME_INTERNAL, SCHEME_PGP_INLINE, SCHEME_PGP_MIME}


@dataclass(frozen=True)
class Recipient:
    """How one recipient gets the message: scheme, and key when encrypted."""

    email: str
    scheme: int
    public_key: PublicKey | None = None
    signature: int = SIGNATURE_DETACHED


def build_send_package(
    mime_type: str,
    body: bytes,
    recipients: list[Recipient],
    *,
    signer: KeyRing | None = None,
    attachment_keys: dict[str, SessionKey] | None = None,
) -> dict:
    """One entry of a send request's ``Packages`` for recipients of one type.

    ``body`` is the plaintext in ``mime_type`` (text/plain, text/html, or
    multipart/mixed for PGP/MIME and clear MIME). ``attachment_keys`` are
    the session keys of the draft's uploaded attachments, by attachment ID
    (``KeyRing.decrypt_session_key`` of each attachment's key packets).
    """
    attachment_keys = attachment_keys or {}
    session_key = generate_session_key()
    data_packet = encrypt_with_session_key(body, session_key, signer=signer)
    package: dict = {
        "Addresses": {},
        "MIMEType": mime_type,
        "Type": 0,
        "Body": base64.b64encode(data_packet).decode(),
    }

    for recipient in recipients:
        is_mime = recipient.scheme in _MIME_SCHEMES
        if is_mime != (mime_type == "multipart/mixed"):
            raise CryptoError(
                f"scheme {recipient.scheme} does not fit a {mime_type} package"
            )

        entry: dict = {"Type": recipient.scheme, "Signature": recipient.signature}
        if recipient.scheme in _ENCRYPTED_SCHEMES:
            if recipient.public_key is None:
                raise CryptoError(f"no public key to encrypt to {recipient.email}")
            key = recipient.public_key
            entry["BodyKeyPacket"] = _b64(key.encrypt_session_key(session_key))
            if not is_mime:
                entry["AttachmentKeyPackets"] = {
                    att_id: _b64(key.encrypt_session_key(att_key))
                    for att_id, att_key in attachment_keys.items()
                }
        else:
            # Clear recipients: the provider encrypts nothing and needs the keys.
            package["BodyKey"] = session_key.to_api()
            if not is_mime:
                package["AttachmentKeys"] = {
                    att_id: att_key.to_api()
                    for att_id, att_key in attachment_keys.items()
                }

        package["Addresses"][recipient.email] = entry
        package["Type"] |= recipient.scheme

    return package


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
