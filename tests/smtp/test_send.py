"""Sending through the listener to the reference provider, end to end.

Each test submits with a real SMTP client and then looks at what the
provider holds: the recipient's copy decrypted with the recipient's keys,
the outbox for outside recipients, and the sender's Sent and Drafts.
"""

import email
import email.policy
import secrets
import smtplib
import subprocess

import httpx
import pgpy
import pytest

from mailsync import sendrecorder
from tests.refprovider.helpers import new_outside_key
from tests.smtp import mailboxes
from tests.smtp.messages import (
    PIXEL_PNG,
    html_and_text,
    plain,
    with_attachment,
    with_inline_image,
)
from tests.support import require_program

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sender(smtp_server, link_account):
    return link_account()


@pytest.fixture
def recipient(refprovider):
    """Another user of the same provider: an internal recipient."""
    return refprovider.adduser()


def submit(server, linked, message, recipients=None, **options) -> None:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=120) as client:
        client.login(linked.email, linked.bridge_password)
        if isinstance(message, bytes):
            client.sendmail(linked.email, recipients, message, **options)
        else:
            client.send_message(message, to_addrs=recipients, **options)


def only_received(refprovider, user):
    [message] = mailboxes.received(refprovider, user)
    return message


def test_plain_text_reaches_an_internal_recipient(
    refprovider, smtp_server, sender, recipient
):
    message = plain(sender.email, recipient.addresses[0], "Hello", "Hi there.\n")

    submit(smtp_server, sender, message)

    copy = only_received(refprovider, recipient)
    assert copy["Subject"] == "Hello"
    assert copy["From"].addresses[0].addr_spec == sender.email
    assert copy.get_body(("plain",)).get_content().strip() == "Hi there."
    assert len(mailboxes.list_messages(refprovider, sender.user, mailboxes.SENT)) == 1
    assert mailboxes.list_messages(refprovider, sender.user, mailboxes.ALL_DRAFTS) == []


def test_html_with_text_alternative_arrives_as_html(
    refprovider, smtp_server, sender, recipient
):
    submit(smtp_server, sender, html_and_text(sender.email, recipient.addresses[0]))

    copy = only_received(refprovider, recipient)
    assert copy.get_body(("html",)).get_content().strip() == (
        "<p>Rich <b>version</b>.</p>"
    )


def test_attachment_arrives_intact(refprovider, smtp_server, sender, recipient):
    data = bytes(range(256)) * 40
    message = with_attachment(sender.email, recipient.addresses[0], data, "report.pdf")

    submit(smtp_server, sender, message)

    copy = only_received(refprovider, recipient)
    [attachment] = list(copy.iter_attachments())
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == data


def test_inline_image_keeps_its_content_id(refprovider, smtp_server, sender, recipient):
    message, content_id = with_inline_image(sender.email, recipient.addresses[0])

    submit(smtp_server, sender, message)

    copy = only_received(refprovider, recipient)
    assert f"cid:{content_id}" in copy.get_body(("html",)).get_content()
    [image] = [part for part in copy.walk() if part.get_content_type() == "image/png"]
    assert image.get_payload(decode=True) == PIXEL_PNG
    assert image["Content-ID"] == f"<{content_id}>"
    # The provider's own record says where the image goes.
    [item] = mailboxes.list_messages(refprovider, recipient, mailboxes.INBOX)
    [stored] = mailboxes.get_message(refprovider, recipient, item["ID"])["Attachments"]
    assert stored["Disposition"] == "inline"
    assert stored["Headers"]["content-id"] in (f"<{content_id}>", [f"<{content_id}>"])


def test_utf8_subject_names_and_body(refprovider, smtp_server, sender, recipient):
    raw = (
        f"From: Jürgen Groß <{sender.email}>\r\n"
        f"To: Zoë <{recipient.addresses[0]}>\r\n"
        "Subject: Grüße aus Köln ☕\r\n"
        "Message-ID: <utf8-test@client.test>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Schöne Grüße, 山田さん!\r\n"
    ).encode()

    submit(
        smtp_server,
        sender,
        raw,
        [recipient.addresses[0]],
        mail_options=["SMTPUTF8", "BODY=8BITMIME"],
    )

    copy = only_received(refprovider, recipient)
    assert copy["Subject"] == "Grüße aus Köln ☕"
    assert copy["From"].addresses[0].display_name == "Jürgen Groß"
    assert copy.get_body(("plain",)).get_content().strip() == "Schöne Grüße, 山田さん!"


def test_bcc_recipient_gets_a_copy_that_does_not_name_them(
    refprovider, smtp_server, sender, recipient
):
    hidden = refprovider.adduser()
    message = plain(sender.email, recipient.addresses[0], "Team news")

    submit(smtp_server, sender, message, [recipient.addresses[0], hidden.addresses[0]])

    for user in (recipient, hidden):
        copy = only_received(refprovider, user)
        assert copy["Subject"] == "Team news"
        assert hidden.addresses[0] not in str(copy)
    [sent] = mailboxes.list_messages(refprovider, sender.user, mailboxes.SENT)
    assert [entry["Address"] for entry in sent["BCCList"]] == [hidden.addresses[0]]


def test_reply_is_threaded_under_its_parent(
    refprovider, smtp_server, sender, recipient
):
    original = plain(recipient.addresses[0], sender.email, "Plans", "Shall we?\n")
    original.replace_header("Message-ID", "<plans-1@example.org>")
    parent_id = refprovider.deliver(sender.user.name, bytes(original))

    reply = plain(sender.email, recipient.addresses[0], "Re: Plans", "Yes!\n")
    reply["In-Reply-To"] = "<plans-1@example.org>"
    reply["References"] = "<plans-1@example.org>"
    submit(smtp_server, sender, reply)

    parent = mailboxes.get_message(refprovider, sender.user, parent_id)
    assert parent["IsReplied"] == 1
    copy = only_received(refprovider, recipient)
    assert copy["In-Reply-To"] == "<plans-1@example.org>"


def test_outside_recipient_without_keys_gets_a_clear_package(
    refprovider, smtp_server, sender
):
    outside = "friend@outside.example"
    message = with_attachment(sender.email, outside, b"%PDF-1.4 data", "a.pdf")
    before = len(mailboxes.outbox(refprovider))

    submit(smtp_server, sender, message)

    [entry] = mailboxes.outbox(refprovider)[before:]
    assert entry["Recipient"] == outside
    assert entry["Type"] == 4
    assert entry["MIMEType"] == "text/plain"
    assert entry["Decrypted"] == "See the attachment.\n"
    assert entry["BodyKey"]["Algorithm"] == "aes256"
    assert len(entry["AttachmentKeys"]) == 1


def test_swaks_sends_with_an_attachment(
    refprovider, smtp_server, sender, recipient, tmp_path
):
    swaks = require_program("swaks")
    attachment = tmp_path / "notes.txt"
    attachment.write_text("Notes from swaks\n")

    done = subprocess.run(
        [
            swaks,
            "--server",
            "127.0.0.1",
            "--port",
            str(smtp_server.port),
            "--tls",
            "--auth",
            "LOGIN",
            "--auth-user",
            sender.email,
            f"--auth-password={sender.bridge_password}",
            "--from",
            sender.email,
            "--to",
            recipient.addresses[0],
            "--header",
            "Subject: Sent by swaks",
            "--body",
            "Body from swaks",
            "--attach",
            f"@{attachment}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "250 2.0.0 Message sent" in done.stdout
    copy = only_received(refprovider, recipient)
    assert copy["Subject"] == "Sent by swaks"
    [part] = list(copy.iter_attachments())
    assert part.get_payload(decode=True).strip() == b"Notes from swaks"


def test_the_same_submission_twice_is_sent_once(
    refprovider, smtp_server, sender, recipient
):
    message = plain(sender.email, recipient.addresses[0], "Only once")

    submit(smtp_server, sender, message)
    submit(smtp_server, sender, message)

    assert len(mailboxes.received(refprovider, recipient)) == 1
    assert len(mailboxes.list_messages(refprovider, sender.user, mailboxes.SENT)) == 1


def test_the_programs_sent_copy_is_recognised(
    refprovider, smtp_server, sender, recipient
):
    message = plain(sender.email, recipient.addresses[0], "Filed copy")

    submit(smtp_server, sender, message)

    [sent] = mailboxes.list_messages(refprovider, sender.user, mailboxes.SENT)
    found = sendrecorder.recent_sent_message(sender.account, bytes(message))
    assert found == sent["ID"]


@pytest.fixture
def pgp_outsider(refprovider):
    """An outside address whose public key the provider serves (as from WKD)."""
    address = f"pgp-{secrets.token_hex(4)}@outside.example"
    key = new_outside_key(address)
    refprovider.external_key(address, str(key))
    yield address, key
    httpx.delete(f"{refprovider.internal_url}/external-keys/{address}", timeout=30)


def public_key_of(refprovider, linked, address: str) -> pgpy.PGPKey:
    session = refprovider.login(linked.user.name, linked.user.password)
    try:
        answer = session.get("core/v4/keys", params={"Email": address}).json()
    finally:
        session.close()
    key, _ = pgpy.PGPKey.from_blob(answer["Keys"][0]["PublicKey"])
    return key


def test_outside_recipient_with_a_key_gets_pgp_mime_it_alone_can_open(
    refprovider, smtp_server, sender, pgp_outsider
):
    outside, outside_key = pgp_outsider
    data = bytes(range(256)) * 8
    message = with_attachment(sender.email, outside, data, "report.pdf")
    before = len(mailboxes.outbox(refprovider))

    submit(smtp_server, sender, message)

    [entry] = mailboxes.outbox(refprovider)[before:]
    assert (entry["Recipient"], entry["Type"]) == (outside, 16)
    assert entry["MIMEType"] == "multipart/mixed"
    assert "BodyKey" not in entry and "Decrypted" not in entry

    sealed = outside_key.decrypt(pgpy.PGPMessage.from_blob(entry["Armored"]))
    assert public_key_of(refprovider, sender, sender.email).verify(sealed)
    opened = email.message_from_bytes(
        bytes(sealed.message), policy=email.policy.default
    )
    assert opened["Subject"] == "Report attached"
    # On the wire the message has CRLF line ends.
    assert opened.get_body(("plain",)).get_content() == "See the attachment.\r\n"
    [attachment] = list(opened.iter_attachments())
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content() == data


def test_the_pgp_mime_message_on_the_wire_names_only_the_envelope(
    refprovider, smtp_server, sender, pgp_outsider
):
    outside, outside_key = pgp_outsider
    hidden = f"hidden-{secrets.token_hex(4)}@outside.example"
    message = plain(sender.email, outside, "Sealed note", "Only for you.\n")
    before = len(mailboxes.outbox(refprovider))

    submit(smtp_server, sender, message, [outside, hidden])

    [entry] = [
        e for e in mailboxes.outbox(refprovider)[before:] if e["Recipient"] == outside
    ]
    wire = email.message_from_string(entry["Message"], policy=email.policy.default)
    assert wire.get_content_type() == "multipart/encrypted"
    assert wire["Subject"] == "Sealed note"
    assert hidden not in entry["Message"]
    _, encrypted = wire.iter_parts()
    sealed = outside_key.decrypt(pgpy.PGPMessage.from_blob(encrypted.get_payload()))
    opened = email.message_from_bytes(
        bytes(sealed.message), policy=email.policy.default
    )
    assert opened.get_body(("plain",)).get_content() == "Only for you.\r\n"
    assert hidden not in str(opened)
