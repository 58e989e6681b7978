"""Drafts, attachments and sending with per-recipient packages."""

import base64

import httpx
import pgpy
import pytest
from pgpy.constants import CompressionAlgorithm, SymmetricKeyAlgorithm

from tests.refprovider.helpers import (
    get_message,
    list_messages,
    split_packets,
    unlock_account,
)
from tests.refprovider.test_messages import mail

TEXT = "Hello from the send test"
ATTACHMENT = b"attached bytes \x00\xff" * 10
AES256 = SymmetricKeyAlgorithm.AES256


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encrypt_with(public_key, data: bytes, session_key: bytes) -> tuple[bytes, bytes]:
    literal = pgpy.PGPMessage.new(
        data, file=False, compression=CompressionAlgorithm.Uncompressed
    )
    message = public_key.encrypt(literal, sessionkey=session_key, cipher=AES256)
    return split_packets(bytes(message))


def recipient_key(session, email):
    response = session.get("core/v4/keys", params={"Email": email}).json()
    assert response["RecipientType"] == 1
    key, _ = pgpy.PGPKey.from_blob(response["Keys"][0]["PublicKey"])
    return key


@pytest.fixture
def sender(refprovider, session, account):
    return session, account.addresses[0]


@pytest.fixture
def receiver(refprovider):
    user = refprovider.adduser()
    session = refprovider.login(user.name, user.password)
    return session, unlock_account(session, user.password).addresses[0]


def create_draft(session, address, to, *, parent_id=None, action=0):
    body = {
        "Message": {
            "Subject": "Sent through the API",
            "Sender": {"Name": "Me", "Address": address.email},
            "ToList": [{"Name": "", "Address": email} for email in to],
            "CCList": [],
            "BCCList": [],
            "Body": str(address.encrypt(TEXT.encode())),
            "MIMEType": "text/plain",
            "Unread": 0,
            "ExternalID": "draft-1@proton.test",
        },
    }
    if parent_id:
        body["ParentID"] = parent_id
        body["Action"] = action
    response = session.post("mail/v4/messages", json=body)
    assert response.status_code == 200, response.text
    return response.json()["Message"]


def upload_attachment(session, address, draft_id, session_key):
    key_packets, data_packet = encrypt_with(address.key.pubkey, ATTACHMENT, session_key)
    with address.key.unlock(address.passphrase):
        signature = bytes(address.key.sign(ATTACHMENT))
    response = session.post(
        "mail/v4/attachments",
        data={
            "MessageID": draft_id,
            "Filename": "blob.bin",
            "MIMEType": "application/octet-stream",
            "Disposition": "attachment",
            "ContentID": "",
        },
        files={
            "KeyPackets": ("blob", key_packets, "application/octet-stream"),
            "DataPacket": ("blob", data_packet, "application/octet-stream"),
            "Signature": ("blob", signature, "application/octet-stream"),
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["Attachment"]


def test_draft_lives_in_drafts(sender):
    session, address = sender
    draft = create_draft(session, address, ["someone@example.org"])
    assert set(draft["LabelIDs"]) == {"8", "1", "5"}
    assert draft["Flags"] == 0
    assert address.decrypt(draft["Body"]).decode() == TEXT

    updated = session.put(
        f"mail/v4/messages/{draft['ID']}",
        json={
            "Message": {
                "Subject": "Changed",
                "Sender": {"Name": "Me", "Address": address.email},
                "MIMEType": "text/plain",
            }
        },
    )
    assert updated.json()["Message"]["Subject"] == "Changed"


def test_draft_needs_an_own_sender(sender):
    session, address = sender
    response = session.post(
        "mail/v4/messages",
        json={
            "Message": {
                "Subject": "x",
                "Sender": {"Name": "", "Address": "not-mine@proton.test"},
                "Body": str(address.encrypt(b"x")),
                "MIMEType": "text/plain",
            }
        },
    )
    assert (response.status_code, response.json()["Code"]) == (422, 2001)


def test_internal_send_delivers_an_encrypted_copy(sender, receiver):
    session, address = sender
    other_session, other_address = receiver
    draft = create_draft(session, address, [other_address.email])

    attachment_key = AES256.gen_key()
    attachment = upload_attachment(session, address, draft["ID"], attachment_key)
    assert attachment["Signature"].startswith("-----BEGIN PGP SIGNATURE")

    their_key = recipient_key(session, other_address.email)
    body_key = AES256.gen_key()
    key_packet, data_packet = encrypt_with(their_key, TEXT.encode(), body_key)
    attachment_packet, _ = encrypt_with(their_key, b"", attachment_key)

    response = session.post(
        f"mail/v4/messages/{draft['ID']}",
        json={
            "Packages": [
                {
                    "Addresses": {
                        other_address.email: {
                            "Type": 1,
                            "Signature": 0,
                            "BodyKeyPacket": b64(key_packet),
                            "AttachmentKeyPackets": {
                                attachment["ID"]: b64(attachment_packet)
                            },
                        }
                    },
                    "MIMEType": "text/plain",
                    "Type": 1,
                    "Body": b64(data_packet),
                }
            ]
        },
    )
    assert response.status_code == 200, response.text
    sent = response.json()["Sent"]
    assert set(sent["LabelIDs"]) == {"7", "2", "5"}
    assert sent["Flags"] & 2

    [arrived] = list_messages(other_session, LabelID="0")["Messages"]
    assert arrived["Unread"] == 1
    assert arrived["Flags"] & 1
    message = get_message(other_session, arrived["ID"])
    assert other_address.decrypt(message["Body"]).decode() == TEXT

    [copy] = message["Attachments"]
    data = other_session.get(f"mail/v4/attachments/{copy['ID']}").content
    packets = base64.b64decode(copy["KeyPackets"])
    assert other_address.decrypt(packets + data) == ATTACHMENT


def test_clear_package_goes_to_the_outbox(refprovider, sender):
    session, address = sender
    draft = create_draft(session, address, ["outside@example.org"])
    body_key = AES256.gen_key()
    _, data_packet = encrypt_with(address.key.pubkey, TEXT.encode(), body_key)

    response = session.post(
        f"mail/v4/messages/{draft['ID']}",
        json={
            "Packages": [
                {
                    "Addresses": {"outside@example.org": {"Type": 4, "Signature": 0}},
                    "MIMEType": "text/plain",
                    "Type": 4,
                    "Body": b64(data_packet),
                    "BodyKey": {"Key": b64(bytes(body_key)), "Algorithm": "aes256"},
                    "AttachmentKeys": {},
                }
            ]
        },
    )
    assert response.status_code == 200, response.text

    outbox = httpx.get(refprovider.internal_url + "/outbox").json()["Outbox"]
    [entry] = [e for e in outbox if e["MessageID"] == draft["ID"]]
    assert entry["Recipient"] == "outside@example.org"
    assert entry["Type"] == 4
    assert entry["Decrypted"] == TEXT


def test_a_recipient_without_a_package_is_refused(sender):
    session, address = sender
    draft = create_draft(session, address, ["a@example.org", "b@example.org"])
    _, data_packet = encrypt_with(address.key.pubkey, b"x", AES256.gen_key())

    response = session.post(
        f"mail/v4/messages/{draft['ID']}",
        json={
            "Packages": [
                {
                    "Addresses": {"a@example.org": {"Type": 4, "Signature": 0}},
                    "MIMEType": "text/plain",
                    "Type": 4,
                    "Body": b64(data_packet),
                    "BodyKey": {"Key": b64(b"k" * 32), "Algorithm": "aes256"},
                }
            ]
        },
    )
    assert response.status_code == 422
    assert "b@example.org" in response.json()["Error"]
    assert get_message(session, draft["ID"])["Flags"] == 0


def test_internal_scheme_needs_an_internal_address(sender):
    session, address = sender
    draft = create_draft(session, address, ["outside@example.org"])
    key_packet, data_packet = encrypt_with(address.key.pubkey, b"x", AES256.gen_key())

    response = session.post(
        f"mail/v4/messages/{draft['ID']}",
        json={
            "Packages": [
                {
                    "Addresses": {
                        "outside@example.org": {
                            "Type": 1,
                            "Signature": 0,
                            "BodyKeyPacket": b64(key_packet),
                        }
                    },
                    "MIMEType": "text/plain",
                    "Type": 1,
                    "Body": b64(data_packet),
                }
            ]
        },
    )
    assert response.status_code == 422
    assert "outside@example.org" in response.json()["Error"]


def test_reply_marks_the_parent(refprovider, sender):
    session, address = sender
    [parent_id] = refprovider.seed(session.user.name, [mail("to answer")])
    draft = create_draft(
        session, address, ["outside@example.org"], parent_id=parent_id, action=0
    )
    assert "In-Reply-To" in get_message(session, draft["ID"])["ParsedHeaders"]

    body_key = AES256.gen_key()
    _, data_packet = encrypt_with(address.key.pubkey, b"re", body_key)
    session.post(
        f"mail/v4/messages/{draft['ID']}",
        json={
            "Packages": [
                {
                    "Addresses": {"outside@example.org": {"Type": 4, "Signature": 0}},
                    "MIMEType": "text/plain",
                    "Type": 4,
                    "Body": b64(data_packet),
                    "BodyKey": {"Key": b64(bytes(body_key)), "Algorithm": "aes256"},
                }
            ]
        },
    ).raise_for_status()

    assert get_message(session, parent_id)["IsReplied"] == 1


def test_forward_carries_the_parent_attachments(refprovider, sender):
    session, address = sender
    literal = (
        b"From: far@example.org\r\nSubject: with file\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b"--m\r\nContent-Type: text/plain\r\n\r\nsee file\r\n"
        b"--m\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=f.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--m--\r\n"
    )
    [parent_id] = refprovider.seed(session.user.name, [literal], mode="web")
    [original] = get_message(session, parent_id)["Attachments"]

    response = session.post(
        "mail/v4/messages",
        json={
            "Message": {
                "Subject": "Fwd: with file",
                "Sender": {"Name": "", "Address": address.email},
                "ToList": [{"Name": "", "Address": "next@example.org"}],
                "Body": str(address.encrypt(b"forwarding")),
                "MIMEType": "text/plain",
            },
            "ParentID": parent_id,
            "Action": 2,
            # Same address, so the parent's key packet already fits.
            "AttachmentKeyPackets": {original["ID"]: original["KeyPackets"]},
        },
    )
    assert response.status_code == 200, response.text
    [copy] = response.json()["Message"]["Attachments"]
    assert copy["ID"] != original["ID"]
    assert copy["Name"] == "f.bin"

    data = session.get(f"mail/v4/attachments/{copy['ID']}").content
    packets = base64.b64decode(copy["KeyPackets"])
    assert address.decrypt(packets + data) == b"\x00\x01\x02\x03"
