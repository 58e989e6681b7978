import email
import email.policy
from pathlib import Path

import pytest

from mailsync.provider import build
from mailsync.provider.types import Attachment, EmailAddress, Message
from tests.support import corpus_files

CORPUS = corpus_files()


def _message(**fields) -> Message:
    base = {
        "id": "msg-1",
        "address_id": "address-0",
        "label_ids": ["0", "5"],
        "external_id": "",
        "subject": "",
        "sender": EmailAddress("alice@proton.test", "Alice"),
        "to_list": [EmailAddress("bob@example.org", "Bob")],
        "cc_list": [],
        "bcc_list": [],
        "reply_tos": [],
        "flags": 1,
        "time": 0,
        "size": 0,
        "unread": False,
        "is_replied": False,
        "is_replied_all": False,
        "is_forwarded": False,
        "num_attachments": 0,
    }
    base.update(fields)
    return Message(**base)


def _attachment(name, mime_type, disposition="attachment", content_id=""):
    headers = {"content-id": f"<{content_id}>"} if content_id else {}
    return Attachment(
        id=f"att-{name}",
        name=name,
        size=0,
        mime_type=mime_type,
        disposition=disposition,
        headers=headers,
        key_packets="",
    )


def test_corpus_is_there():
    assert len(CORPUS) > 100, "the shared corpus was not found"


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_imported_message_comes_back_byte_identical(path: Path):
    literal = path.read_bytes()
    envelope = build.pgp_mime_envelope(literal, "ARMORED", "seed")
    stored_header, _ = build.split_header(envelope)
    message = _message(
        mime_type="multipart/mixed", header=stored_header.decode("utf-8", "replace")
    )

    rebuilt = build.build_message(message, literal, [])

    assert rebuilt == build.normalize_crlf(literal)


def test_pgp_mime_inner_entity_gets_the_message_header():
    header = "Subject: hello\r\nFrom: a@b.test\r\nContent-Type: multipart/mixed\r\n"
    entity = b"Content-Type: text/plain\r\n\r\nsecret text\r\n"
    message = _message(mime_type="multipart/mixed", header=header, subject="hello")

    rebuilt = build.build_message(message, entity, [])

    assert rebuilt.startswith(b"Subject: hello\r\nFrom: a@b.test\r\n")
    assert rebuilt.endswith(b"\r\n" + entity)
    assert b"multipart/mixed" not in rebuilt


@pytest.mark.parametrize(
    ("mime_type", "body"),
    [
        ("text/plain", "plain ascii text\n"),
        ("text/html", "<p>caf\u00e9 \u2603</p>\n" + "x" * 2000),
    ],
    ids=["ascii", "utf8-long-line"],
)
def test_web_message_without_attachments_keeps_its_text(mime_type, body):
    header = "Subject: Hi\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    message = _message(mime_type=mime_type, header=header, subject="Hi")

    rebuilt = build.build_message(message, body.encode(), [])

    parsed = email.message_from_bytes(rebuilt, policy=email.policy.default)
    assert parsed.get_content_type() == mime_type
    assert parsed.get_content().replace("\r\n", "\n") == body
    assert parsed["Subject"] == "Hi"
    assert parsed["From"] == "Alice <alice@proton.test>"
    assert b"\r\n" in rebuilt and b"\n" not in rebuilt.replace(b"\r\n", b"")


def test_web_message_with_attachments_keeps_bytes_names_and_types():
    pdf = bytes(range(256)) * 10
    inner = b"Subject: inner\r\n\r\nforwarded\r\n"
    attachments = [
        (_attachment("report.pdf", "application/pdf"), pdf),
        (_attachment("r\u00e9sum\u00e9 \u2603.txt", "text/plain"), b"caf\xc3\xa9\n"),
        (_attachment("fwd.eml", "message/rfc822"), inner),
        (_attachment("logo.png", "image/png", "inline", "logo@x"), b"\x89PNG\r\n"),
    ]
    message = _message(
        mime_type="text/html",
        header="Subject: With files\r\nContent-Type: text/html\r\n",
        subject="With files",
    )

    rebuilt = build.build_message(message, b"<img src=cid:logo@x>", attachments)

    parsed = email.message_from_bytes(rebuilt, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    related, *rest = parsed.iter_parts()
    assert related.get_content_type() == "multipart/related"
    html, logo = related.iter_parts()
    assert html.get_content() == "<img src=cid:logo@x>"
    assert logo.get_content() == b"\x89PNG\r\n"
    assert logo["Content-ID"] == "<logo@x>"
    got = {part.get_filename(): part for part in rest}
    assert got["report.pdf"].get_content() == pdf
    assert got["report.pdf"].get_content_type() == "application/pdf"
    assert got["r\u00e9sum\u00e9 \u2603.txt"].get_payload(decode=True) == (
        b"caf\xc3\xa9\n"
    )
    assert got["fwd.eml"].get_content_type() == "message/rfc822"
    assert got["fwd.eml"].get_payload()[0]["Subject"] == "inner"


def test_building_twice_gives_the_same_bytes():
    attachments = [(_attachment("a.bin", "application/octet-stream"), b"\0\1")]
    message = _message(mime_type="text/plain", header="Subject: s\r\n")

    first = build.build_message(message, b"text", attachments)

    assert build.build_message(message, b"text", attachments) == first


def test_missing_message_id_comes_from_the_external_id():
    message = _message(mime_type="text/plain", header="", external_id="abc@x.test")

    rebuilt = build.build_message(message, b"body", [])

    assert b"Message-ID: <abc@x.test>\r\n" in rebuilt


def test_pgp_mime_envelope_keeps_the_addressing_fields():
    literal = (
        b"Received: by a\nReceived: by b\nFrom: a@b.test\nSubject: s\n"
        b"X-Other: dropped\n\nbody\n"
    )

    envelope = build.pgp_mime_envelope(literal, "-----BEGIN PGP MESSAGE-----", "x")

    parsed = email.message_from_bytes(envelope, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/encrypted"
    assert parsed.get_all("Received") == ["by a"]
    assert parsed["Subject"] == "s" and parsed["X-Other"] is None
    version, data = parsed.iter_parts()
    assert version.get_content_type() == "application/pgp-encrypted"
    assert data.get_payload().strip() == "-----BEGIN PGP MESSAGE-----"
