"""Import: the client's encrypted upload, stored as the provider keeps it."""

import base64
import json

import httpx
import pytest

from tests.refprovider.helpers import get_message
from tests.support import corpus_files

PDF = b"%PDF-1.4 not really a pdf\x00\x01\x02" * 20
TEXT = "Grüße from the import test\r\n"


def upload(session, parts: dict[str, bytes], metadata: dict[str, dict]):
    files = [
        (name, (f"{name}.eml", literal + b"\r\n", "message/rfc822"))
        for name, literal in parts.items()
    ]
    files.append(("Metadata", (None, json.dumps(metadata), "application/json")))
    return session.post("mail/v4/messages/import", files=files)


def part_encrypted(address) -> bytes:
    """A message encrypted part by part, as a client does when it can."""
    body = str(address.encrypt(TEXT.encode("utf-8")))
    attachment = base64.encodebytes(bytes(address.encrypt(PDF))).decode("ascii")
    return (
        "From: Sender <sender@example.org>\r\n"
        "To: you@proton.test\r\n"
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
        "Date: Tue, 2 Jan 2024 09:30:00 +0100\r\n"
        "Message-ID: <import-1@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n'
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}\r\n"
        "--b1\r\n"
        'Content-Type: application/pdf; name="report.pdf"\r\n'
        'Content-Disposition: attachment; filename="report.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        f"{attachment}"
        "--b1--\r\n"
    ).encode()


def metadata(account, **overrides):
    entry = {
        "AddressID": account.addresses[0].id,
        "LabelIDs": ["0"],
        "Unread": 1,
        "Flags": 1,
    }
    entry.update(overrides)
    return entry


def test_part_encrypted_upload_keeps_body_and_attachment(session, account):
    address = account.addresses[0]
    response = upload(session, {"0": part_encrypted(address)}, {"0": metadata(account)})

    assert response.status_code == 200
    body = response.json()
    assert body["Code"] == 1001
    [result] = body["Responses"]
    assert result["Name"] == "0"
    assert result["Response"]["Code"] == 1000

    message = get_message(session, result["Response"]["MessageID"])
    assert message["Subject"] == "Grüße"
    assert message["Sender"] == {"Name": "Sender", "Address": "sender@example.org"}
    assert message["ExternalID"] == "import-1@example.org"
    assert message["MIMEType"] == "text/plain"
    assert message["Flags"] & 1 and message["Flags"] & 512
    assert set(message["LabelIDs"]) == {"0", "5"}
    assert message["Unread"] == 1
    assert address.decrypt(message["Body"]).decode("utf-8") == TEXT

    [attachment] = message["Attachments"]
    assert attachment["Name"] == "report.pdf"
    assert attachment["MIMEType"] == "application/pdf"
    assert attachment["Disposition"] == "attachment"
    data = session.get(f"mail/v4/attachments/{attachment['ID']}").content
    packets = base64.b64decode(attachment["KeyPackets"])
    assert address.decrypt(packets + data) == PDF
    assert message["NumAttachments"] == 1


def test_pgp_mime_upload_is_stored_as_multipart_mixed(session, account):
    address = account.addresses[0]
    original = (
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: whole\r\n"
        b"Message-ID: <whole@example.org>\r\n"
        b"Content-Type: multipart/alternative; boundary=x\r\n\r\n"
        b"--x\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
        b"--x\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--x--\r\n"
    )
    armored = str(address.encrypt(original))
    wrapped = (
        "From: a@example.org\r\nSubject: whole\r\nMime-Version: 1.0\r\n"
        'Content-Type: multipart/encrypted; boundary="e";'
        ' protocol="application/pgp-encrypted"\r\n\r\n'
        "--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
        "--e\r\nContent-Type: application/octet-stream; name=encrypted.asc\r\n\r\n"
        f"{armored}\r\n--e--\r\n"
    ).encode()

    response = upload(session, {"0": wrapped}, {"0": metadata(account)})
    message_id = response.json()["Responses"][0]["Response"]["MessageID"]

    message = get_message(session, message_id)
    assert message["MIMEType"] == "multipart/mixed"
    assert message["Attachments"] == []
    assert address.decrypt(message["Body"]) == original


def test_each_message_is_refused_on_its_own(session, account):
    address = account.addresses[0]
    parts = {
        "0": part_encrypted(address),
        "1": b"From: x@example.org\r\nSubject: plain\r\n\r\nnot encrypted\r\n",
        "2": part_encrypted(address),
    }
    response = upload(
        session,
        parts,
        {
            "0": metadata(account),
            "1": metadata(account),
            "2": metadata(account, LabelIDs=["5"]),
        },
    )

    codes = [r["Response"]["Code"] for r in response.json()["Responses"]]
    assert codes == [1000, 2001, 2001]


def test_two_locations_are_refused(session, account):
    response = upload(
        session,
        {"0": part_encrypted(account.addresses[0])},
        {"0": metadata(account, LabelIDs=["0", "6"])},
    )
    assert response.json()["Responses"][0]["Response"]["Code"] == 2001


def test_at_most_ten_messages_per_request(session, account):
    literal = part_encrypted(account.addresses[0])
    parts = {str(n): literal for n in range(11)}
    response = upload(session, parts, {name: metadata(account) for name in parts})
    assert (response.status_code, response.json()["Code"]) == (422, 2001)


CORPUS = corpus_files()


@pytest.mark.parametrize(
    "path",
    [p for p in CORPUS if p.name.startswith(("plain_emails__raw_email", "rfc2822"))][
        :4
    ],
    ids=lambda p: p.name,
)
def test_seeded_import_mode_gives_the_original_back(refprovider, session, path):
    [message_id] = refprovider.seed(session.user.name, eml=[path])

    message = get_message(session, message_id)
    assert message["MIMEType"] == "multipart/mixed"
    raw = refprovider_raw(refprovider, session.user.name, message_id)
    assert raw == path.read_bytes()


def test_seeded_web_mode_stores_body_and_attachments_apart(refprovider, session):
    [path] = [p for p in CORPUS if p.name == "attachment_emails__attachment_pdf.eml"]
    [message_id] = refprovider.seed(session.user.name, eml=[path], mode="web")

    message = get_message(session, message_id)
    assert message["MIMEType"] in ("text/plain", "text/html")
    assert [a["MIMEType"] for a in message["Attachments"]] == ["application/pdf"]
    assert message["Attachments"][0]["Signature"].startswith("-----BEGIN PGP SIGNATURE")


def refprovider_raw(refprovider, username, message_id) -> bytes:
    url = f"{refprovider.internal_url}/users/{username}/messages/{message_id}/raw"
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def test_delivered_mail_arrives_in_a_folder_with_labels(refprovider, session):
    message_id = refprovider.deliver(
        session.user.name,
        b"From: far@example.org\r\nSubject: arriving\r\n\r\nhi\r\n",
        folder="Lists/Python",
        labels=["Later"],
        unread=False,
    )

    message = get_message(session, message_id)
    folders = session.get("core/v4/labels", params={"Type": 3}).json()["Labels"]
    [python] = [f for f in folders if f["Path"] == "Lists/Python"]
    [later] = session.get("core/v4/labels", params={"Type": 1}).json()["Labels"]
    assert set(message["LabelIDs"]) == {python["ID"], later["ID"], "5"}
    assert message["Unread"] == 0
