import base64
import json
import secrets

import pytest

from mailsync.provider import srp
from mailsync.provider.errors import SRPError
from mailsync.provider.modulus_key import PROVIDER_MODULUS_PUBKEY
from tests.support import shared_dir


def _vectors(name):
    path = shared_dir() / "vectors" / name
    return json.loads(path.read_text())["vectors"]


VERIFIERS = _vectors("srp-verifiers.json")
MODULI = _vectors("srp-modulus.json")
MODULUS = bytes.fromhex(VERIFIERS[0]["ModulusHex"])


@pytest.mark.parametrize("vector", VERIFIERS, ids=[v["Username"] for v in VERIFIERS])
def test_verifier_matches_the_provider_vectors(vector):
    compute = lambda: srp.compute_verifier(  # noqa: E731
        vector["Password"].encode(),
        base64.b64decode(vector["Salt"]),
        bytes.fromhex(vector["ModulusHex"]),
    )

    if vector["Error"]:
        with pytest.raises(SRPError):
            compute()
    else:
        assert compute() == base64.b64decode(vector["Verifier"])


def test_empty_password_is_refused():
    with pytest.raises(SRPError):
        srp.hash_password(b"", b"0123456789", MODULUS)


@pytest.mark.parametrize("vector", MODULI, ids=["good", "tampered"][: len(MODULI)])
def test_signed_modulus_is_accepted_or_refused_as_marked(vector):
    if vector["Error"]:
        with pytest.raises(SRPError):
            srp.verify_modulus(vector["SignedModulus"], PROVIDER_MODULUS_PUBKEY)
    else:
        modulus = srp.verify_modulus(vector["SignedModulus"], PROVIDER_MODULUS_PUBKEY)
        assert modulus == base64.b64decode(vector["Decoded"])


def test_modulus_signed_by_another_key_is_refused(account):
    good = next(v for v in MODULI if not v["Error"])
    other_key = str(account.user_key.pubkey)

    with pytest.raises(SRPError):
        srp.verify_modulus(good["SignedModulus"], other_key)


def test_bcrypt_base64_uses_the_bcrypt_alphabet():
    assert srp.bcrypt_base64(b"\xff" * 3) == "9999"
    assert srp.bcrypt_base64(b"\x00" * 3) == "...."


def test_mailbox_password_is_the_last_31_bcrypt_characters():
    salt = bytes(range(16))
    full = srp.bcrypt_hash(b"secret", srp.bcrypt_base64(salt))

    passphrase = srp.mailbox_password(b"secret", salt)

    assert full.startswith(b"$2y$10$")
    assert passphrase == full[-31:]


def test_passwords_longer_than_bcrypt_reads_are_cut_not_refused():
    long_password = b"x" * 100

    hashed = srp.hash_password(long_password, b"0123456789", MODULUS)

    assert hashed == srp.hash_password(long_password[:72], b"0123456789", MODULUS)


def _server_side(verifier: bytes, client_ephemeral: bytes, modulus_bytes: bytes):
    """The provider's half of the exchange, written out from the SRP-6a math."""
    modulus = srp.to_int(modulus_bytes)
    k = srp.to_int(srp.expand_hash(srp.from_int(2) + modulus_bytes)) % modulus
    b = secrets.randbelow(modulus - 4096) + 4096
    v = srp.to_int(verifier)
    server_ephemeral = srp.from_int((k * v + pow(2, b, modulus)) % modulus)

    def finish(client_proof: bytes) -> bytes | None:
        u = srp.to_int(srp.expand_hash(client_ephemeral() + server_ephemeral))
        a_value = srp.to_int(client_ephemeral())
        shared = srp.from_int(pow(a_value * pow(v, u, modulus), b, modulus))
        expected = srp.expand_hash(client_ephemeral() + server_ephemeral + shared)
        if expected != client_proof:
            return None
        return srp.expand_hash(client_ephemeral() + client_proof + shared)

    return server_ephemeral, finish


@pytest.mark.parametrize("password", [b"test", b"wrong"], ids=["right", "wrong"])
def test_full_exchange_against_the_server_math(password):
    salt = base64.b64decode(VERIFIERS[0]["Salt"])
    verifier = srp.compute_verifier(b"test", salt, MODULUS)
    holder = {}
    server_ephemeral, finish = _server_side(verifier, lambda: holder["A"], MODULUS)

    proofs = srp.compute_proofs(
        srp.hash_password(password, salt, MODULUS), MODULUS, server_ephemeral
    )
    holder["A"] = proofs.client_ephemeral
    server_proof = finish(proofs.client_proof)

    if password == b"test":
        srp.check_server_proof(proofs, server_proof)
    else:
        assert server_proof is None


def test_a_forged_server_proof_is_refused():
    proofs = srp.SRPProofs(b"A", b"M", b"expected")

    with pytest.raises(SRPError):
        srp.check_server_proof(proofs, b"something else")


@pytest.mark.parametrize(
    "server_ephemeral", [b"\x00" * 256, b"\x01" + b"\x00" * 255], ids=["zero", "one"]
)
def test_degenerate_server_ephemeral_is_refused(server_ephemeral):
    with pytest.raises(SRPError):
        srp.compute_proofs(b"\x01" * 256, MODULUS, server_ephemeral)


def test_modulus_that_is_not_a_safe_prime_is_refused():
    composite = srp.from_int(srp.to_int(MODULUS) + 8)

    with pytest.raises(SRPError):
        srp.compute_proofs(b"\x01" * 256, composite, b"\x05" * 256)
