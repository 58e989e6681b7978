"""Send packages, opened with each recipient's own key (mailsync/send.py).

The packages are built here without a provider, with keys made for the test,
so every scheme is opened side by side. Sending to an outside address whose
key the reference provider serves (POST /internal/external-keys) is tested
in test_send.py.
"""

import base64
import email
import email.policy

import pytest

from mailsync.provider import pgp
from mailsync.send import make_packages, parse_message
from tests.provider.keys import new_key
from tests.smtp.messages import with_attachment

PASSPHRASE = "test passphrase"


def keyring(email_address: str) -> tuple[pgp.KeyRing, str]:
    key = new_key(email_address, PASSPHRASE)
    return pgp.KeyRing.unlock([str(key)], [PASSPHRASE]), str(key.pubkey)


@pytest.fixture(scope="module")
def keys():
    return {name: keyring(f"{name}@example.test") for name in ("me", "inside", "pgp")}


@pytest.fixture(scope="module")
def sent(keys):
    """Packages for one internal, one clear and one PGP/MIME recipient."""
    message = with_attachment(
        "me@example.test", "inside@example.test", b"\x00attachment\xff", "a.bin"
    )
    message["Bcc"] = "pgp@example.test"
    outgoing = parse_message(
        bytes(message),
        ["inside@example.test", "clear@example.test", "pgp@example.test"],
    )
    attachment_keys = {"att-1": pgp.generate_session_key()}
    recipients = [
        pgp.Recipient("inside@example.test", 1, pgp.PublicKey(keys["inside"][1])),
        pgp.Recipient("clear@example.test", 4, signature=0),
        pgp.Recipient("pgp@example.test", 16, pgp.PublicKey(keys["pgp"][1])),
    ]
    packages = make_packages(keys["me"][0], outgoing, attachment_keys, recipients)
    return packages, attachment_keys


def open_body(package: dict, session_key: pgp.SessionKey) -> bytes:
    return pgp.decrypt_with_session_key(base64.b64decode(package["Body"]), session_key)


def test_internal_recipient_opens_body_and_attachment_keys(sent, keys):
    [text, _] = sent[0]
    attachment_keys = sent[1]
    entry = text["Addresses"]["inside@example.test"]
    inside = keys["inside"][0]

    body_key = inside.decrypt_session_key(base64.b64decode(entry["BodyKeyPacket"]))
    attachment_key = inside.decrypt_session_key(
        base64.b64decode(entry["AttachmentKeyPackets"]["att-1"])
    )

    assert (entry["Type"], entry["Signature"]) == (1, 1)
    assert open_body(text, body_key) == b"See the attachment.\n"
    assert attachment_key == attachment_keys["att-1"]


def test_clear_recipient_package_hands_the_keys_to_the_provider(sent):
    [text, _] = sent[0]
    attachment_keys = sent[1]

    assert text["Addresses"]["clear@example.test"] == {"Type": 4, "Signature": 0}
    assert text["Type"] == 1 | 4
    assert text["MIMEType"] == "text/plain"
    body_key = pgp.SessionKey(
        base64.b64decode(text["BodyKey"]["Key"]), text["BodyKey"]["Algorithm"]
    )
    assert open_body(text, body_key) == b"See the attachment.\n"
    assert text["AttachmentKeys"]["att-1"] == attachment_keys["att-1"].to_api()


def test_pgp_mime_recipient_gets_the_whole_message_without_bcc(sent, keys):
    [_, mime] = sent[0]
    entry = mime["Addresses"]["pgp@example.test"]

    body_key = keys["pgp"][0].decrypt_session_key(
        base64.b64decode(entry["BodyKeyPacket"])
    )
    whole = email.message_from_bytes(
        open_body(mime, body_key), policy=email.policy.default
    )

    assert (mime["MIMEType"], mime["Type"]) == ("multipart/mixed", 16)
    assert (entry["Type"], entry["Signature"]) == (16, 1)
    assert "Bcc" not in whole
    [attachment] = list(whole.iter_attachments())
    assert attachment.get_content() == b"\x00attachment\xff"


def test_a_key_packet_opens_only_for_its_recipient(sent, keys):
    [text, _] = sent[0]
    entry = text["Addresses"]["inside@example.test"]

    with pytest.raises(pgp.DecryptionError):
        keys["pgp"][0].decrypt_session_key(base64.b64decode(entry["BodyKeyPacket"]))
