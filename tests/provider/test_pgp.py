import base64
import dataclasses

import pgpy
import pytest

from mailsync.provider import pgp, srp
from mailsync.provider.errors import (
    CryptoError,
    DecryptionError,
    KeyUnlockError,
    SignatureError,
)
from tests.provider.keys import new_key


@pytest.fixture(scope="module")
def unlocked(account):
    key_pass = srp.mailbox_password(
        account.password, base64.b64decode(account.key_salt)
    )
    return pgp.unlock_keys(account.user, account.addresses, key_pass)


@pytest.fixture(scope="module")
def ring(unlocked):
    return unlocked.for_address("address-0")


def test_user_and_address_keys_unlock_through_the_token(unlocked, account):
    assert len(unlocked.user) == 1
    assert sorted(unlocked.addresses) == ["address-0", "address-1"]
    expected = str(account.address_keys["address-1"].fingerprint).replace(" ", "")
    assert unlocked.for_address("address-1").fingerprints == [expected]


def test_wrong_key_passphrase_unlocks_nothing(account):
    with pytest.raises(KeyUnlockError):
        pgp.unlock_keys(account.user, account.addresses, b"not the passphrase")


def test_legacy_address_key_shares_the_user_passphrase(account):
    key_pass = "legacy passphrase"
    user_key = new_key("bob", key_pass)
    user = dataclasses.replace(
        account.user,
        keys=[dataclasses.replace(account.user.keys[0], private_key=str(user_key))],
    )
    legacy = dataclasses.replace(
        account.addresses[0].keys[0],
        private_key=str(new_key("bob@proton.test", key_pass)),
        token="",
        signature="",
    )
    address = dataclasses.replace(account.addresses[0], keys=[legacy])

    unlocked = pgp.unlock_keys(user, [address], key_pass)

    assert list(unlocked.addresses) == [address.id]


def test_address_key_with_a_forged_token_signature_is_skipped(account, unlocked):
    forged = dataclasses.replace(
        account.addresses[0].keys[0],
        signature=str(account.addresses[1].keys[0].signature),
    )
    address = dataclasses.replace(account.addresses[0], keys=[forged])
    key_pass = srp.mailbox_password(
        account.password, base64.b64decode(account.key_salt)
    )

    with pytest.raises(KeyUnlockError):
        pgp.unlock_keys(account.user, [address], key_pass)


def test_armored_message_round_trip_keeps_every_byte(ring):
    data = b"Subject: x\r\n\r\n\xff\x00 binary and \r bare CR\n"

    assert ring.decrypt(ring.encrypt(data)) == data


def test_message_from_a_public_key_encryption_decrypts(ring):
    encrypted = ring.primary.pubkey.encrypt(pgpy.PGPMessage.new(b"from outside"))

    assert ring.decrypt(str(encrypted)) == b"from outside"


def test_message_for_another_key_does_not_decrypt(ring, unlocked):
    other = unlocked.for_address("address-1")

    with pytest.raises(DecryptionError):
        ring.decrypt(other.encrypt(b"not for address-0"))


def test_garbage_is_a_decryption_error(ring):
    with pytest.raises(DecryptionError):
        ring.decrypt(
            "-----BEGIN PGP MESSAGE-----\n\nnonsense\n-----END PGP MESSAGE-----"
        )


def test_split_attachment_round_trip(ring):
    data = bytes(range(256)) * 4000

    split = ring.encrypt_split(data)

    assert ring.decrypt_split(split.key_packets, split.data_packet) == data


def test_tampered_data_packet_is_refused(ring):
    split = ring.encrypt_split(b"attachment")
    tampered = bytearray(split.data_packet)
    tampered[-5] ^= 0x01

    with pytest.raises(DecryptionError):
        ring.decrypt_split(split.key_packets, bytes(tampered))


def test_session_key_reencrypted_for_a_recipient_opens_the_same_data(ring, unlocked):
    recipient = unlocked.for_address("address-1")
    split = ring.encrypt_split(b"attachment for bob")

    session_key = ring.decrypt_session_key(split.key_packets)
    packet_for_bob = recipient.public_key().encrypt_session_key(session_key)

    assert recipient.decrypt_split(packet_for_bob, split.data_packet) == (
        b"attachment for bob"
    )


def test_body_encrypted_with_a_fresh_session_key(ring):
    session_key = pgp.generate_session_key()

    data_packet = pgp.encrypt_with_session_key(b"<p>hi</p>", session_key, signer=ring)

    assert session_key.algorithm == "aes256" and len(session_key.key) == 32
    assert pgp.decrypt_with_session_key(data_packet, session_key) == b"<p>hi</p>"
    assert session_key.to_api()["Key"] == base64.b64encode(session_key.key).decode()


def test_wrong_session_key_does_not_decrypt(ring):
    data_packet = pgp.encrypt_with_session_key(b"x", pgp.generate_session_key())

    with pytest.raises(DecryptionError):
        pgp.decrypt_with_session_key(data_packet, pgp.generate_session_key())


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_detached_signature_verifies_and_rejects_other_data(ring, armor):
    signature = ring.sign_detached(b"attachment bytes", armor=armor)

    ring.verify_detached(b"attachment bytes", signature)
    ring.public_key().verify_detached(b"attachment bytes", signature)
    with pytest.raises(SignatureError):
        ring.verify_detached(b"other bytes", signature)


def test_signature_by_another_key_is_rejected(ring, unlocked):
    signature = unlocked.for_address("address-1").sign_detached(b"data")

    with pytest.raises(SignatureError):
        ring.verify_detached(b"data", signature)


def test_session_key_repr_hides_the_key():
    session_key = pgp.generate_session_key()

    assert base64.b64encode(session_key.key).decode() not in repr(session_key)
    assert session_key.key.hex() not in repr(session_key)


def test_our_armor_is_read_by_other_openpgp_code(ring, account):
    armored = ring.encrypt(b"for the provider")
    address_key = account.address_keys["address-0"]

    with address_key.unlock(account.address_passphrases["address-0"]):
        message = address_key.decrypt(pgpy.PGPMessage.from_blob(armored))

    assert bytes(message.message) == b"for the provider"


def test_dearmor_ignores_headers_and_a_wrong_checksum(ring):
    armored = ring.encrypt(b"payload").replace("-----\n\n", "-----\nVersion: X\n\n")
    lines = armored.splitlines()
    checksum_line = next(i for i, line in enumerate(lines) if line.startswith("="))
    lines[checksum_line] = "=AAAA"

    assert ring.decrypt("\r\n".join(lines)) == b"payload"


def test_send_package_gives_each_recipient_what_it_needs(ring, unlocked):
    bob = unlocked.for_address("address-1")
    attachment = ring.encrypt_split(b"%PDF attachment")
    attachment_key = ring.decrypt_session_key(attachment.key_packets)
    recipients = [
        pgp.Recipient("bob@proton.test", 1, bob.public_key()),
        pgp.Recipient("carol@example.org", 4),
    ]

    package = pgp.build_send_package(
        "text/plain",
        b"hello bob",
        recipients,
        signer=ring,
        attachment_keys={"att-1": attachment_key},
    )

    body = base64.b64decode(package["Body"])
    internal = package["Addresses"]["bob@proton.test"]
    assert package["Type"] == 1 | 4 and package["MIMEType"] == "text/plain"
    assert bob.decrypt_split(base64.b64decode(internal["BodyKeyPacket"]), body) == (
        b"hello bob"
    )
    att_packet = base64.b64decode(internal["AttachmentKeyPackets"]["att-1"])
    assert bob.decrypt_split(att_packet, attachment.data_packet) == b"%PDF attachment"
    clear_key = pgp.SessionKey(
        base64.b64decode(package["BodyKey"]["Key"]), package["BodyKey"]["Algorithm"]
    )
    assert pgp.decrypt_with_session_key(body, clear_key) == b"hello bob"
    assert package["AttachmentKeys"]["att-1"] == attachment_key.to_api()


def test_send_package_refuses_an_encrypted_recipient_without_a_key():
    with pytest.raises(CryptoError):
        pgp.build_send_package("text/html", b"x", [pgp.Recipient("a@b.test", 1)])
