"""The SRP math against the provider's published vectors, and the key chain."""

import base64
import json

import httpx
import pgpy
import pytest

from refprovider import srp
from tests.fixtures.refprovider import read_signed_modulus
from tests.refprovider.helpers import unlock_account
from tests.support import shared_dir

VECTORS = json.loads((shared_dir() / "vectors" / "srp-verifiers.json").read_text())[
    "vectors"
]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["Username"])
def test_verifier_matches_the_vectors(vector):
    modulus = int.from_bytes(bytes.fromhex(vector["ModulusHex"]), "little")
    salt = base64.b64decode(vector["Salt"])

    if vector["Error"]:
        with pytest.raises(srp.SRPError):
            srp.compute_verifier(vector["Password"].encode(), salt, modulus)
        return

    verifier = srp.compute_verifier(vector["Password"].encode(), salt, modulus)
    assert base64.b64encode(verifier).decode() == vector["Verifier"]


def test_empty_password_is_refused():
    with pytest.raises(srp.SRPError):
        srp.compute_verifier(b"", b"0123456789")


def test_modulus_is_a_safe_prime_the_clients_accept():
    modulus = srp.MODULUS
    assert modulus.bit_length() == 2048
    # Clients insist on N = 3 (mod 8) and that 2 generates the whole group.
    assert modulus % 8 == 3
    assert pow(2, (modulus - 1) // 2, modulus) == modulus - 1


def test_served_modulus_is_signed_by_the_published_key(refprovider):
    with refprovider.api() as client:
        signed = client.get("auth/v4/modulus").json()["Modulus"]

    assert signed.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    modulus = read_signed_modulus(signed, refprovider.modulus_pubkey)
    assert int.from_bytes(modulus, "little") == srp.MODULUS

    published = refprovider.internal_url + "/modulus-pubkey"
    assert httpx.get(published).text.strip() == refprovider.modulus_pubkey.strip()


def test_tampered_modulus_does_not_verify(refprovider):
    with refprovider.api() as client:
        signed = client.get("auth/v4/modulus").json()["Modulus"]

    lines = signed.splitlines()
    body_index = lines.index("") + 1
    lines[body_index] = "A" + lines[body_index][1:]
    key, _ = pgpy.PGPKey.from_blob(refprovider.modulus_pubkey)
    assert not key.verify(pgpy.PGPMessage.from_blob("\n".join(lines) + "\n"))


def test_key_chain_unlocks_with_the_login_password(account):
    address = account.addresses[0]
    secret = address.encrypt(b"round trip")
    assert address.decrypt(bytes(secret)) == b"round trip"


def test_two_password_mode_salts_the_mailbox_password(refprovider):
    user = refprovider.adduser(password="login pw", mailbox_password="mailbox pw")
    session = refprovider.login(user.name, "login pw")
    assert session.auth["PasswordMode"] == 2

    account = unlock_account(session, "mailbox pw")
    assert account.addresses[0].email == user.addresses[0]
    with pytest.raises(pgpy.errors.PGPDecryptionError):
        unlock_account(session, "login pw")
