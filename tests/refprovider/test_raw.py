"""The control API's decrypted message: rebuilt with its attachments' headers."""

import base64
import email
import email.policy

import httpx

from refprovider import mime

PIXEL = b"\x89PNG\r\n\x1a\n pixel"


def raw(refprovider, username: str, message_id: str) -> email.message.EmailMessage:
    url = f"{refprovider.internal_url}/users/{username}/messages/{message_id}/raw"
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return email.message_from_bytes(response.content, policy=email.policy.default)


def with_inline_image() -> bytes:
    return (
        b"From: far@example.org\r\nSubject: picture\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/related; boundary="r"\r\n\r\n'
        b"--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<img src="cid:dot@example.org">\r\n'
        b"--r\r\nContent-Type: image/png; name=dot.png\r\n"
        b"Content-Disposition: inline; filename=dot.png\r\n"
        b"Content-ID: <dot@example.org>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(PIXEL).replace(b"\n", b"\r\n")
        + b"--r--\r\n"
    )


def test_a_web_stored_inline_image_keeps_its_content_id(refprovider, session):
    [message_id] = refprovider.seed(
        session.user.name, [with_inline_image()], mode="web"
    )

    rebuilt = raw(refprovider, session.user.name, message_id)

    [image] = [p for p in rebuilt.walk() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<dot@example.org>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == PIXEL
    assert "cid:dot@example.org" in rebuilt.get_body(("html",)).get_content()


def build(part: mime.StoredPart) -> email.message.EmailMessage:
    literal = mime.build_message([["Subject", "s"]], b"text", "text/plain", [part])
    return email.message_from_bytes(literal, policy=email.policy.default)


def test_stored_fields_are_written_and_content_fields_are_the_builders():
    part = mime.StoredPart(
        "a.txt",
        "text/csv",
        "attachment",
        b"1,2",
        headers=[
            ["content-description", "numbers"],
            ["content-type", "application/x-stale"],
            ["x-note", "folded\r\n value"],
        ],
    )

    [attachment] = list(build(part).iter_attachments())

    assert attachment["Content-Description"] == "numbers"
    assert attachment["X-Note"] == "folded value"
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content() == "1,2"


def test_a_content_id_kept_only_in_its_column_is_written_too():
    part = mime.StoredPart(
        "dot.png", "image/png", "inline", PIXEL, content_id="dot@example.org"
    )
    [image] = [p for p in build(part).walk() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<dot@example.org>"
