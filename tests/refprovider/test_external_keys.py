"""Outside addresses with known public keys, and PGP/MIME mail sent to them."""

import email
import email.policy
import secrets

import httpx
import pgpy
import pytest

from tests.refprovider.helpers import new_outside_key
from tests.refprovider.test_send import (
    AES256,
    ATTACHMENT,
    TEXT,
    b64,
    create_draft,
    encrypt_with,
)


def outside_address() -> str:
    return f"pgp-{secrets.token_hex(4)}@outside.example"


def register(refprovider, address: str, armored: str) -> httpx.Response:
    return httpx.post(
        f"{refprovider.internal_url}/external-keys",
        json={"Email": address, "PublicKey": armored},
        timeout=30,
    )


def lookup(session, address: str) -> dict:
    response = session.get("core/v4/keys", params={"Email": address})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def outside(refprovider):
    """An outside person whose public key the provider knows."""
    address = outside_address()
    key = new_outside_key(address)
    refprovider.external_key(address, str(key.pubkey))
    return address, key


def test_an_outside_address_without_keys_has_none(session):
    answer = lookup(session, outside_address())
    assert answer["RecipientType"] == 2
    assert answer["Keys"] == []


def test_a_registered_key_is_served_as_external(session, outside):
    address, key = outside

    answer = lookup(session, address.upper())

    assert answer["Code"] == 1000
    assert answer["RecipientType"] == 2
    [served] = answer["Keys"]
    assert served["Flags"] == 3
    public, _ = pgpy.PGPKey.from_blob(served["PublicKey"])
    assert public.is_public
    assert public.fingerprint == key.fingerprint


def test_a_private_key_is_kept_as_its_public_half(refprovider, session):
    address = outside_address()
    key = new_outside_key(address)

    assert register(refprovider, address, str(key)).status_code == 200

    [served] = lookup(session, address)["Keys"]
    assert "PRIVATE" not in served["PublicKey"]
    assert pgpy.PGPKey.from_blob(served["PublicKey"])[0].fingerprint == key.fingerprint


def test_a_removed_key_is_no_longer_served(refprovider, session, outside):
    address, _ = outside

    removed = httpx.delete(f"{refprovider.internal_url}/external-keys/{address}")
    again = httpx.delete(f"{refprovider.internal_url}/external-keys/{address}")

    assert removed.json() == {"Code": 1000, "Removed": 1}
    assert (again.status_code, again.json()["Code"]) == (404, 2501)
    assert lookup(session, address)["Keys"] == []


def test_registered_keys_are_listed(refprovider, outside):
    address, key = outside
    listed = httpx.get(f"{refprovider.internal_url}/external-keys").json()
    entries = [e for e in listed["ExternalKeys"] if e["Email"] == address]
    assert [e["Fingerprint"] for e in entries] == [
        str(key.fingerprint).replace(" ", "").lower()
    ]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"Email": "x@outside.example", "PublicKey": "not a key"}, "OpenPGP"),
        ({"Email": "no-at-sign", "PublicKey": "k"}, "Email"),
        ({"Email": "x@outside.example"}, "PublicKey"),
        ({"Email": ["x@outside.example"], "PublicKey": "k"}, "Email"),
    ],
    ids=["garbage-key", "bad-email", "no-key", "email-list"],
)
def test_a_bad_registration_is_refused(refprovider, body, needle):
    response = httpx.post(f"{refprovider.internal_url}/external-keys", json=body)
    assert response.status_code == 422
    assert response.json()["Code"] == 2001
    assert needle in response.json()["Error"]


def test_an_address_of_this_provider_cannot_get_an_outside_key(refprovider, user):
    key = new_outside_key(user.addresses[0])
    response = register(refprovider, user.addresses[0], str(key.pubkey))
    assert (response.status_code, response.json()["Code"]) == (422, 2001)


def mime_message(sender: str, recipient: str) -> bytes:
    """A whole message as a PGP/MIME sender encrypts it: text and a file."""
    return (
        f"From: {sender}\r\nTo: {recipient}\r\nSubject: Sealed\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{TEXT}\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment; filename=blob.bin\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64(ATTACHMENT)}\r\n--b--\r\n"
    ).encode()


def send_pgp_mime(session, draft_id: str, recipient: str, key, literal: bytes):
    body_key = AES256.gen_key()
    key_packet, data_packet = encrypt_with(key.pubkey, literal, body_key)
    return session.post(
        f"mail/v4/messages/{draft_id}",
        json={
            "Packages": [
                {
                    "Addresses": {
                        recipient: {
                            "Type": 16,
                            "Signature": 0,
                            "BodyKeyPacket": b64(key_packet),
                        }
                    },
                    "MIMEType": "multipart/mixed",
                    "Type": 16,
                    "Body": b64(data_packet),
                }
            ]
        },
    )


def outbox_entry(refprovider, draft_id: str, recipient: str) -> dict:
    outbox = httpx.get(f"{refprovider.internal_url}/outbox").json()["Outbox"]
    [entry] = [
        e for e in outbox if (e["MessageID"], e["Recipient"]) == (draft_id, recipient)
    ]
    return entry


def decrypt(key: pgpy.PGPKey, armored: str) -> bytes:
    plain = key.decrypt(pgpy.PGPMessage.from_blob(armored)).message
    return plain.encode() if isinstance(plain, str) else bytes(plain)


def test_pgp_mime_mail_leaves_encrypted_to_the_outside_key(
    refprovider, session, account, outside
):
    address, key = outside
    sender = account.address()
    draft = create_draft(session, sender, [address])
    literal = mime_message(sender.email, address)

    response = send_pgp_mime(session, draft["ID"], address, key, literal)

    assert response.status_code == 200, response.text
    entry = outbox_entry(refprovider, draft["ID"], address)
    assert entry["Type"] == 16
    assert "Decrypted" not in entry and "BodyKey" not in entry
    assert decrypt(key, entry["Armored"]) == literal


def test_the_pgp_mime_wire_message_hides_everything_but_the_envelope(
    refprovider, session, account, outside
):
    address, key = outside
    sender = account.address()
    draft = create_draft(session, sender, [address])
    hidden = "hidden@outside.example"
    session.put(
        f"mail/v4/messages/{draft['ID']}",
        json={
            "Message": {
                "Sender": {"Name": "Me", "Address": sender.email},
                "MIMEType": "text/plain",
                "BCCList": [{"Name": "", "Address": hidden}],
            }
        },
    ).raise_for_status()
    literal = mime_message(sender.email, address)
    session_key = AES256.gen_key()
    key_packet, data_packet = encrypt_with(key.pubkey, literal, session_key)
    clear_key = {"Key": b64(bytes(session_key)), "Algorithm": "aes256"}
    packages = [
        {
            "Addresses": {
                address: {"Type": 16, "Signature": 0, "BodyKeyPacket": b64(key_packet)}
            },
            "MIMEType": "multipart/mixed",
            "Type": 16,
            "Body": b64(data_packet),
        },
        {
            "Addresses": {hidden: {"Type": 32, "Signature": 0}},
            "MIMEType": "multipart/mixed",
            "Type": 32,
            "Body": b64(data_packet),
            "BodyKey": clear_key,
        },
    ]

    response = session.post(
        f"mail/v4/messages/{draft['ID']}", json={"Packages": packages}
    )

    assert response.status_code == 200, response.text
    addressed = outbox_entry(refprovider, draft["ID"], address)
    wire = email.message_from_string(addressed["Message"], policy=email.policy.default)
    assert wire.get_content_type() == "multipart/encrypted"
    assert wire.get_param("protocol") == "application/pgp-encrypted"
    assert wire["Subject"] == "Sent through the API"
    assert wire["To"] == address
    assert wire["Bcc"] is None and hidden not in addressed["Message"]
    version, sealed = wire.iter_parts()
    assert str(version.get_payload()).strip() == "Version: 1"
    assert decrypt(key, str(sealed.get_payload())) == literal
