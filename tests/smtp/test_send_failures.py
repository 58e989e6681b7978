"""Every way a send can fail: the reply says so, and nothing is left behind.

After each refusal the sender has no draft on the provider (no half-sent
message) and the recipient received nothing.
"""

import smtplib
import threading

import pytest

from tests.smtp import mailboxes
from tests.smtp.messages import plain
from tests.smtp.people import make_account

pytestmark = pytest.mark.django_db(transaction=True)

SEND_ROUTE = r"^/mail/v4/messages/[^/]+$"
DRAFT_ROUTE = r"^/mail/v4/messages$"
KEYS_ROUTE = r"^/core/v4/keys$"

# Provider calls fail fast here: short timeouts, one retry, no long waits.
FAST_CLIENT = {
    "timeout": 1.5,
    "max_attempts": 2,
    "backoff_base": 0.05,
    "backoff_max": 0.1,
    "max_retry_after": 0.2,
}


@pytest.fixture
def smtp_options():
    return {"client_options": FAST_CLIENT}


@pytest.fixture
def sender(smtp_server, link_account):
    return link_account()


@pytest.fixture
def recipient(refprovider):
    return refprovider.adduser()


def refused(server, linked, message) -> smtplib.SMTPResponseException:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=120) as client:
        client.login(linked.email, linked.bridge_password)
        with pytest.raises(smtplib.SMTPResponseException) as failure:
            client.send_message(message)
    return failure.value


def assert_nothing_left(refprovider, sender, recipient) -> None:
    refprovider.clear_faults()  # the checks below use the same routes
    assert mailboxes.list_messages(refprovider, sender.user, mailboxes.ALL_DRAFTS) == []
    assert mailboxes.list_messages(refprovider, sender.user, mailboxes.SENT) == []
    assert mailboxes.list_messages(refprovider, recipient, mailboxes.INBOX) == []


def test_from_header_of_another_account_is_refused(
    refprovider, smtp_server, sender, recipient
):
    message = plain(sender.email, recipient.addresses[0])
    message.replace_header("From", recipient.addresses[0])

    failure = refused(smtp_server, sender, message)

    assert failure.smtp_code == 550
    assert failure.smtp_error.startswith(b"5.7.1 " + recipient.addresses[0].encode())
    assert_nothing_left(refprovider, sender, recipient)


def test_provider_refusal_is_permanent(refprovider, smtp_server, sender, recipient):
    refprovider.fault(SEND_ROUTE, 422, method="POST", code=2001)

    failure = refused(smtp_server, sender, plain(sender.email, recipient.addresses[0]))

    assert failure.smtp_code == 554
    assert failure.smtp_error.startswith(b"5.0.0 The provider refused to send")
    assert_nothing_left(refprovider, sender, recipient)


def test_rate_limit_is_temporary(refprovider, smtp_server, sender, recipient):
    refprovider.fault(SEND_ROUTE, 429, method="POST", retry_after=30)

    failure = refused(smtp_server, sender, plain(sender.email, recipient.addresses[0]))

    assert failure.smtp_code == 451
    assert b"slow down" in failure.smtp_error
    assert_nothing_left(refprovider, sender, recipient)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_temporary(
    refprovider, smtp_server, sender, recipient, status
):
    refprovider.fault(SEND_ROUTE, status, method="POST")

    failure = refused(smtp_server, sender, plain(sender.email, recipient.addresses[0]))

    assert failure.smtp_code == 451
    assert failure.smtp_error.startswith(b"4.4.2 The provider could not send")
    assert_nothing_left(refprovider, sender, recipient)


def test_draft_creation_failure_leaves_nothing(
    refprovider, smtp_server, sender, recipient
):
    refprovider.fault(DRAFT_ROUTE, 503, method="POST")

    failure = refused(smtp_server, sender, plain(sender.email, recipient.addresses[0]))

    assert failure.smtp_code == 451
    assert b"create the draft" in failure.smtp_error
    assert_nothing_left(refprovider, sender, recipient)


def test_provider_timeout_is_temporary(refprovider, smtp_server, sender, recipient):
    refprovider.fault(KEYS_ROUTE, method="GET", delay=4, count=2)

    failure = refused(smtp_server, sender, plain(sender.email, recipient.addresses[0]))

    assert failure.smtp_code == 451
    assert b"look up the keys" in failure.smtp_error
    assert_nothing_left(refprovider, sender, recipient)


@pytest.mark.parametrize("smtp_options", [{"send_deadline": 1.0}])
def test_a_send_past_its_deadline_is_abandoned_and_cleaned_up(
    refprovider, smtp_server, sender, recipient
):
    refprovider.fault(KEYS_ROUTE, method="GET", delay=4, count=1)

    failure = refused(smtp_server, sender, plain(sender.email, recipient.addresses[0]))

    assert failure.smtp_code == 451
    assert failure.smtp_error.startswith(b"4.4.7")
    assert_nothing_left(refprovider, sender, recipient)


def test_account_without_provider_session_is_told_to_log_in(smtp_server):
    account = make_account("offline@proton.test")

    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=60) as client:
        client.login("offline@proton.test", account.bridge_password)
        with pytest.raises(smtplib.SMTPDataError) as failure:
            client.sendmail(
                "offline@proton.test",
                ["bob@example.org"],
                bytes(plain("offline@proton.test", "bob@example.org")),
            )

    assert failure.value.smtp_code == 451
    assert b"log in again on the bridge dashboard" in failure.value.smtp_error


def test_shutdown_waits_for_a_message_being_sent(
    refprovider, smtp_server, sender, recipient
):
    refprovider.fault(SEND_ROUTE, method="POST", delay=1.0, count=1)
    outcome = {}

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=120) as client:
            client.login(sender.email, sender.bridge_password)
            client.send_message(plain(sender.email, recipient.addresses[0], "Last"))
            outcome["sent"] = True

    thread = threading.Thread(target=send)
    thread.start()
    transactions = smtp_server.service.transactions
    wait_until(lambda: transactions.active == 1)

    smtp_server.loop.run(smtp_server.service.stop())
    thread.join(60)

    assert outcome == {"sent": True}
    [copy] = mailboxes.received(refprovider, recipient)
    assert copy["Subject"] == "Last"
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=5)


def wait_until(condition, attempts: int = 600) -> None:
    """Poll a condition that another thread will make true."""
    event = threading.Event()
    for _ in range(attempts):
        if condition():
            return
        event.wait(0.05)
    raise AssertionError("the condition never became true")
