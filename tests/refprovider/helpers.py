"""Client-side helpers for the provider's tests: key unlocking, encryption,
message listing. Written with PGPy and bcrypt directly, apart from the
provider's code, so that the tests check the provider against the protocol."""

import base64
import warnings
from dataclasses import dataclass, field

import bcrypt
import pgpy
from pgpy.constants import (
    CompressionAlgorithm,
    EllipticCurveOID,
    HashAlgorithm,
    KeyFlags,
    PubKeyAlgorithm,
    SymmetricKeyAlgorithm,
)

warnings.filterwarnings("ignore", module="pgpy")

_BCRYPT_ALPHABET = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
)
LIST = {"X-HTTP-Method-Override": "GET"}


def key_passphrase(password: str, key_salt_b64: str) -> str:
    salt = base64.b64encode(base64.b64decode(key_salt_b64)).rstrip(b"=")
    setting = b"$2y$10$" + salt.translate(_BCRYPT_ALPHABET)
    return bcrypt.hashpw(password.encode(), setting)[-31:].decode()


@dataclass
class UnlockedAddress:
    id: str
    email: str
    key: pgpy.PGPKey
    passphrase: str

    def decrypt(self, data: bytes | str) -> bytes:
        message = pgpy.PGPMessage.from_blob(data)
        with self.key.unlock(self.passphrase):
            plain = self.key.decrypt(message).message
        return plain.encode() if isinstance(plain, str) else bytes(plain)

    def encrypt(self, data: bytes) -> pgpy.PGPMessage:
        literal = pgpy.PGPMessage.new(
            data, file=False, compression=CompressionAlgorithm.Uncompressed
        )
        return self.key.pubkey.encrypt(literal, cipher=SymmetricKeyAlgorithm.AES256)


@dataclass
class Account:
    user_key: pgpy.PGPKey
    user_passphrase: str
    addresses: list[UnlockedAddress] = field(default_factory=list)

    def address(self, email: str | None = None) -> UnlockedAddress:
        for address in self.addresses:
            if email is None or address.email == email:
                return address
        raise KeyError(email)


def unlock_account(session, password: str) -> Account:
    """Salts -> user key passphrase -> user key -> address tokens -> address keys."""
    user = session.get("core/v4/users").json()["User"]
    salts = {
        salt["ID"]: salt["KeySalt"]
        for salt in session.get("core/v4/keys/salts").json()["KeySalts"]
    }
    user_key_entry = user["Keys"][0]
    passphrase = key_passphrase(password, salts[user_key_entry["ID"]])
    user_key, _ = pgpy.PGPKey.from_blob(user_key_entry["PrivateKey"])

    account = Account(user_key, passphrase)
    for address in session.get("core/v4/addresses").json()["Addresses"]:
        entry = address["Keys"][0]
        with user_key.unlock(passphrase):
            token = user_key.decrypt(pgpy.PGPMessage.from_blob(entry["Token"])).message
        token_bytes = token.encode() if isinstance(token, str) else bytes(token)
        signature = pgpy.PGPSignature.from_blob(entry["Signature"])
        assert user_key.pubkey.verify(token_bytes, signature), "token signature"

        key, _ = pgpy.PGPKey.from_blob(entry["PrivateKey"])
        account.addresses.append(
            UnlockedAddress(address["ID"], address["Email"], key, token_bytes.decode())
        )
    return account


def new_outside_key(email: str) -> pgpy.PGPKey:
    """An unlocked Ed25519 key with a Curve25519 subkey, for an outside person."""
    primary = pgpy.PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519)
    primary.add_uid(
        pgpy.PGPUID.new(email.split("@")[0], email=email),
        usage={KeyFlags.Sign, KeyFlags.Certify},
        hashes=[HashAlgorithm.SHA256],
        ciphers=[SymmetricKeyAlgorithm.AES256],
        compression=[CompressionAlgorithm.Uncompressed],
    )
    subkey = pgpy.PGPKey.new(PubKeyAlgorithm.ECDH, EllipticCurveOID.Curve25519)
    primary.add_subkey(
        subkey, usage={KeyFlags.EncryptCommunications, KeyFlags.EncryptStorage}
    )
    return primary


def list_messages(session, **filters) -> dict:
    response = session.post("mail/v4/messages", json=filters, headers=LIST)
    assert response.status_code == 200, response.text
    return response.json()


def get_message(session, message_id: str) -> dict:
    response = session.get(f"mail/v4/messages/{message_id}")
    assert response.status_code == 200, response.text
    return response.json()["Message"]


def latest_event(session) -> str:
    return session.get("core/v4/events/latest").json()["EventID"]


def split_packets(data: bytes) -> tuple[bytes, bytes]:
    """(key packets, data packet) of a binary message: tags 1/3 then 18."""
    keys = bytearray()
    offset = 0
    while offset < len(data):
        start = offset
        header = data[offset]
        tag = header & 0x3F
        first = data[offset + 1]
        if first < 192:
            offset += 2 + first
        elif first < 224:
            offset += 3 + ((first - 192) << 8) + data[offset + 2] + 192
        else:
            offset += 6 + int.from_bytes(data[offset + 2 : offset + 6], "big")
        if tag in (1, 3):
            keys += data[start:offset]
        else:
            return bytes(keys), data[start:]
    raise AssertionError("no data packet")
