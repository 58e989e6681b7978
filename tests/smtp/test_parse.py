"""Reading submitted messages into what the provider needs (mailsync/send.py)."""

import pytest

from mailsync.send import parse_message, strip_plus_alias
from tests.smtp.messages import (
    PIXEL_PNG,
    html_and_text,
    plain,
    with_attachment,
    with_inline_image,
)
from tests.support import corpus_files

ALICE = "Alice <alice@proton.test>"


def test_plain_text_message():
    message = plain(ALICE, "Bob <bob@example.org>", "Hello", "Hi Bob.\n")

    parsed = parse_message(bytes(message), ["bob@example.org"])

    assert parsed.sender.address == "alice@proton.test"
    assert parsed.sender.name == "Alice"
    assert parsed.subject == "Hello"
    assert [a.address for a in parsed.to_list] == ["bob@example.org"]
    assert parsed.mime_type == "text/plain"
    assert parsed.body == "Hi Bob.\n"
    assert parsed.attachments == []
    assert parsed.message_id.endswith("@client.test")


def test_html_is_preferred_over_its_text_alternative():
    parsed = parse_message(bytes(html_and_text(ALICE, "bob@example.org")))

    assert parsed.mime_type == "text/html"
    assert parsed.body == "<p>Rich <b>version</b>.</p>\n"
    assert parsed.attachments == []


def test_attachment_keeps_name_type_and_bytes():
    data = b"%PDF-1.4 fake but binary \x00\xff\x10"
    message = with_attachment(ALICE, "bob@example.org", data, "Bericht März.pdf")

    parsed = parse_message(bytes(message))

    [attachment] = parsed.attachments
    assert attachment.filename == "Bericht März.pdf"
    assert attachment.mime_type == "application/pdf"
    assert attachment.disposition == "attachment"
    assert attachment.data == data
    assert parsed.body == "See the attachment.\n"


def test_inline_image_is_an_inline_attachment_with_its_content_id():
    message, content_id = with_inline_image(ALICE, "bob@example.org")

    parsed = parse_message(bytes(message))

    assert parsed.mime_type == "text/html"
    assert f"cid:{content_id}" in parsed.body
    [image] = parsed.attachments
    assert image.disposition == "inline"
    assert image.content_id == content_id
    assert image.data == PIXEL_PNG


def test_non_ascii_headers_encoded_or_raw_utf8():
    message = plain("Jürgen Groß <juergen@proton.test>", "bob@example.org")
    message.replace_header("Subject", "Grüße aus Köln ☕")
    message.set_content("Schöne Grüße!\n", charset="utf-8")
    encoded = bytes(message)
    raw_utf8 = (
        "From: Jürgen Groß <juergen@proton.test>\r\n"
        "To: Zoë <zoe@example.org>\r\n"
        "Subject: Grüße aus Köln ☕\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Schöne Grüße!\r\n"
    ).encode()

    for raw in (encoded, raw_utf8):
        parsed = parse_message(raw)
        assert parsed.sender.name == "Jürgen Groß"
        assert parsed.subject == "Grüße aus Köln ☕"
        assert parsed.body == "Schöne Grüße!\n"
    assert parse_message(raw_utf8).to_list[0].name == "Zoë"


def test_bcc_comes_from_envelope_recipients_no_header_names():
    message = plain(ALICE, "bob@example.org")
    message["Cc"] = "carol@example.org, dave@example.org"
    message["Bcc"] = "erin@example.org"

    parsed = parse_message(
        bytes(message),
        ["bob@example.org", "Carol@Example.org", "erin@example.org", "hidden@x.test"],
    )

    assert [a.address for a in parsed.to_list] == ["bob@example.org"]
    # dave is named in Cc but not an envelope recipient: not sent to.
    assert [a.address for a in parsed.cc_list] == ["carol@example.org"]
    assert [a.address for a in parsed.bcc_list] == ["erin@example.org", "hidden@x.test"]
    assert b"erin@example.org" not in parsed.mime_body
    assert b"Bcc" not in parsed.mime_body


def test_reply_headers_are_read():
    message = plain(ALICE, "bob@example.org", "Re: Plans")
    message["In-Reply-To"] = "<parent@example.org>"
    message["References"] = "<root@example.org> <parent@example.org>"

    parsed = parse_message(bytes(message))

    assert parsed.in_reply_to == "parent@example.org"
    assert parsed.references == ["root@example.org", "parent@example.org"]


def test_message_without_text_gets_an_empty_body():
    raw = (
        b"From: alice@proton.test\r\nTo: bob@example.org\r\nSubject: x\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"
    )

    parsed = parse_message(raw)

    assert parsed.body == ""
    assert parsed.mime_type == "text/plain"
    assert parsed.attachments[0].data == b"\x00\x01\x02"


def test_plus_aliases_belong_to_their_address():
    assert strip_plus_alias("alice+news@proton.test") == "alice@proton.test"
    assert strip_plus_alias("alice@proton.test") == "alice@proton.test"


@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: path.name)
def test_every_corpus_message_can_be_read(path):
    raw = path.read_bytes()

    parsed = parse_message(raw)

    assert isinstance(parsed.body, str)
    assert parsed.mime_type in ("text/plain", "text/html")
    assert all(isinstance(a.data, bytes) for a in parsed.attachments)
