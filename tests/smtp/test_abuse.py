"""A hostile or broken mail program: every command gets a clear reply.

Each test drives the listener the way a misbehaving client would (raw
sockets where smtplib is too polite) and checks the reply, that the listener
keeps serving, and that nothing was sent or left behind on the provider.
"""

import base64
import logging
import smtplib
import socket
import time

import pytest

from tests.smtp import mailboxes
from tests.smtp.people import make_account

pytestmark = pytest.mark.django_db(transaction=True)

SEND_ROUTE = r"^/mail/v4/messages/[^/]+$"

# Longer than a mail program waits for its reply to DATA once the retries
# add up; what the provider asks must not hold the reply back this long.
LONG_RETRY_AFTER_SECONDS = 45


@pytest.fixture
def account(smtp_server):
    return make_account("alice@proton.test")


@pytest.fixture
def sender(smtp_server, link_account):
    return link_account()


def connect(server) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=60)
    client.ehlo("client.test")
    return client


def logged_in(server, email: str, password: str) -> smtplib.SMTP:
    client = connect(server)
    client.login(email, password)
    return client


def plain_credentials(email: str, password: str) -> str:
    return base64.b64encode(f"\0{email}\0{password}".encode()).decode()


# -- STARTTLS ---------------------------------------------------------------


def test_starttls_twice_is_refused_and_the_connection_goes_on(smtp_server, account):
    with connect(smtp_server) as client:
        client.starttls(context=smtp_server.client_tls_context())
        client.ehlo("client.test")

        code, reply = client.docmd("STARTTLS")

        assert code == 503
        assert reply.startswith(b"5.5.1 ")
        assert b"already" in reply
        assert client.noop()[0] == 250
        client.login("alice@proton.test", account.bridge_password)


def test_starttls_on_the_implicit_tls_port_is_refused(smtp_server, account):
    context = smtp_server.client_tls_context()
    with smtplib.SMTP_SSL(
        "127.0.0.1", smtp_server.implicit_tls_port, context=context, timeout=60
    ) as client:
        client.ehlo("client.test")

        code, reply = client.docmd("STARTTLS")

        assert code == 503
        assert reply.startswith(b"5.5.1 ")
        assert client.noop()[0] == 250


def test_a_broken_tls_handshake_is_not_an_internal_error(smtp_server, account, caplog):
    with socket.create_connection(("127.0.0.1", smtp_server.port), 60) as raw:
        reader = raw.makefile("rb")
        reader.readline()
        raw.sendall(b"EHLO client.test\r\nSTARTTLS\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        assert reader.readline().startswith(b"220 ")

        # Not a TLS ClientHello: the handshake fails on the server's side.
        raw.sendall(b"this is not TLS at all\r\n" * 20)
        assert reader.read() == b""  # the listener hangs up

    # The listener still serves everyone else. (By the time this second
    # conversation is over, the loop has long finished with the first.)
    with logged_in(smtp_server, "alice@proton.test", account.bridge_password) as ok:
        assert ok.noop()[0] == 250

    errors = [
        record
        for record in caplog.records
        if record.name.startswith("protocols.smtp") and record.levelno >= logging.ERROR
    ]
    assert errors == []
    # Nothing of the failed conversation stays behind in the listener.
    assert wait_until(lambda: not smtp_server.service.connections)


def wait_until(condition, attempts: int = 400) -> bool:
    """Poll ``condition`` a bounded number of times (a limit, not a timing)."""
    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- recipients -------------------------------------------------------------


@pytest.mark.parametrize(
    "recipient",
    ["<>", "<not-an-address>", "<@example.org>", "<bob@>", "<bob@example..org>"],
)
def test_recipients_that_are_not_addresses_are_refused(smtp_server, account, recipient):
    with logged_in(smtp_server, "alice@proton.test", account.bridge_password) as c:
        assert c.mail("alice@proton.test")[0] == 250

        code, reply = c.docmd(f"RCPT TO:{recipient}")

        assert code == 553
        assert reply.startswith(b"5.1.3 ")
        # The transaction goes on with the recipients that are fine.
        assert c.rcpt("bob@example.org")[0] == 250


def test_a_null_recipient_sends_nothing(refprovider, smtp_server, sender):
    before = len(mailboxes.outbox(refprovider))
    message = (
        f"From: {sender.email}\r\nTo: bob@example.org\r\nSubject: null\r\n\r\nHi.\r\n"
    )

    with socket.create_connection(("127.0.0.1", smtp_server.port), 60) as raw:
        reader = raw.makefile("rb")
        reader.readline()
        credentials = plain_credentials(sender.email, sender.bridge_password)
        raw.sendall(
            f"EHLO client.test\r\nAUTH PLAIN {credentials}\r\n"
            f"MAIL FROM:<{sender.email}>\r\nRCPT TO:<>\r\nDATA\r\n".encode()
        )
        replies = read_replies(reader, count=5)
        if replies[-1].startswith(b"354"):
            raw.sendall(message.encode() + b".\r\n")
            replies.append(reader.readline())
        raw.sendall(b"QUIT\r\n")

    assert replies[3].startswith(b"553 5.1.3 ")
    assert not any(reply.startswith(b"250 2.0.0") for reply in replies)
    assert len(mailboxes.outbox(refprovider)) == before


def read_replies(reader, count: int) -> list[bytes]:
    """The last line of each of ``count`` replies (multi-line ones skipped)."""
    replies = []
    while len(replies) < count:
        line = reader.readline()
        if not line:
            break
        if line[3:4] != b"-":
            replies.append(line)
    return replies


# -- From field --------------------------------------------------------------


def test_a_second_from_field_is_refused(refprovider, smtp_server, sender):
    before = len(mailboxes.outbox(refprovider))
    message = (
        f"From: {sender.email}\r\nFrom: ceo@bank.example\r\n"
        "To: bob@example.org\r\nSubject: two senders\r\n\r\nPay now.\r\n"
    )

    with logged_in(smtp_server, sender.email, sender.bridge_password) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(sender.email, ["bob@example.org"], message)

    assert refused.value.smtp_code == 554
    assert refused.value.smtp_error.startswith(b"5.6.0 ")
    assert b"From" in refused.value.smtp_error
    assert len(mailboxes.outbox(refprovider)) == before
    assert_no_drafts(refprovider, sender)


def test_every_from_address_must_be_a_sending_address(refprovider, smtp_server, sender):
    before = len(mailboxes.outbox(refprovider))
    message = (
        f"From: {sender.email}, ceo@bank.example\r\nSender: {sender.email}\r\n"
        "To: bob@example.org\r\nSubject: two authors\r\n\r\nPay now.\r\n"
    )

    with logged_in(smtp_server, sender.email, sender.bridge_password) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(sender.email, ["bob@example.org"], message)

    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(b"5.7.1 ceo@bank.example ")
    assert len(mailboxes.outbox(refprovider)) == before
    assert_no_drafts(refprovider, sender)


def assert_no_drafts(refprovider, sender) -> None:
    assert mailboxes.list_messages(refprovider, sender.user, mailboxes.ALL_DRAFTS) == []


# -- provider asking to wait ---------------------------------------------------


def test_a_long_retry_after_is_answered_at_once_with_a_temporary_error(
    refprovider, smtp_server, sender
):
    # One refusal only: a bridge that waited it out would then send (250).
    refprovider.fault(
        SEND_ROUTE,
        429,
        method="POST",
        retry_after=LONG_RETRY_AFTER_SECONDS,
        count=1,
    )
    message = (
        f"From: {sender.email}\r\nTo: bob@example.org\r\nSubject: later\r\n\r\nHi.\r\n"
    )

    with logged_in(smtp_server, sender.email, sender.bridge_password) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(sender.email, ["bob@example.org"], message)

    assert refused.value.smtp_code == 451
    assert b"slow down" in refused.value.smtp_error
    refprovider.clear_faults()
    assert_no_drafts(refprovider, sender)


# -- credentials ---------------------------------------------------------------


def test_a_nul_in_the_login_name_is_a_plain_failure(smtp_server, account):
    name = base64.b64encode(b"alice\0@proton.test").decode()
    password = base64.b64encode(account.bridge_password.encode()).decode()

    with connect(smtp_server) as client:
        code, _ = client.docmd("AUTH LOGIN", name)
        assert code == 334
        code, reply = client.docmd(password)

        assert code == 535
        assert reply.startswith(b"5.7.8 ")
        assert client.noop()[0] == 250


def test_a_login_name_cannot_forge_log_lines(smtp_server, account, caplog):
    forged = "mallory@proton.test\r\n2026-01-01 00:00:00 INFO login as alice"
    name = base64.b64encode(forged.encode()).decode()

    with connect(smtp_server) as client:
        assert client.docmd("AUTH LOGIN", name)[0] == 334
        assert client.docmd(base64.b64encode(b"wrong").decode())[0] == 535

    logged = [record.getMessage() for record in caplog.records]
    assert any("mallory@proton.test" in line for line in logged)
    assert not any("\n" in line or "\r" in line for line in logged)
