"""Provider-shaped keys for tests: a locked user key and address keys."""

import base64
import secrets
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

from mailsync.provider import srp
from mailsync.provider.types import Address, Key, User


def new_key(email: str, passphrase: str) -> pgpy.PGPKey:
    """An Ed25519 signing key with a Curve25519 encryption subkey, locked."""
    key = pgpy.PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519)
    key.add_uid(
        pgpy.PGPUID.new(email, email=email),
        usage={KeyFlags.Sign, KeyFlags.Certify},
        hashes=[HashAlgorithm.SHA256],
        ciphers=[SymmetricKeyAlgorithm.AES256],
        compression=[CompressionAlgorithm.Uncompressed],
    )
    subkey = pgpy.PGPKey.new(PubKeyAlgorithm.ECDH, EllipticCurveOID.Curve25519)
    key.add_subkey(
        subkey, usage={KeyFlags.EncryptCommunications, KeyFlags.EncryptStorage}
    )
    key.protect(passphrase, SymmetricKeyAlgorithm.AES256, HashAlgorithm.SHA256)
    return key


@dataclass
class Account:
    """A user as the provider keeps it, and the secrets behind it."""

    password: bytes
    key_salt: str
    user: User
    addresses: list[Address]
    user_key: pgpy.PGPKey
    address_keys: dict[str, pgpy.PGPKey]
    address_passphrases: dict[str, str]


def make_account(
    password: bytes = b"correct horse", emails=("alice@proton.test",)
) -> Account:
    key_salt = base64.b64encode(secrets.token_bytes(16)).decode()
    key_pass = srp.mailbox_password(password, base64.b64decode(key_salt)).decode()
    user_key = new_key("alice", key_pass)

    addresses, address_keys, address_passphrases = [], {}, {}
    for index, email in enumerate(emails):
        token = secrets.token_hex(16)
        address_key = new_key(email, token)
        with user_key.unlock(key_pass):
            encrypted = user_key.pubkey.encrypt(pgpy.PGPMessage.new(token))
            signature = user_key.sign(token.encode())
        key = Key(
            id=f"address-key-{index}",
            private_key=str(address_key),
            token=str(encrypted),
            signature=str(signature),
            primary=True,
        )
        address_id = f"address-{index}"
        addresses.append(
            Address(
                id=address_id,
                email=email,
                send=True,
                receive=True,
                status=1,
                type=1,
                order=index + 1,
                display_name=email.split("@")[0],
                keys=[key],
            )
        )
        address_keys[address_id] = address_key
        address_passphrases[address_id] = token

    user = User(
        id="user-1",
        name="alice",
        display_name="Alice",
        email=emails[0],
        keys=[Key(id="user-key-1", private_key=str(user_key), primary=True)],
    )
    return Account(
        password,
        key_salt,
        user,
        addresses,
        user_key,
        address_keys,
        address_passphrases,
    )
