"""The SMTP listener itself: capabilities, TLS, logins, senders, size."""

import smtplib
import ssl
import subprocess

import pytest
from django.core.cache import cache

from accounts.models import Address, LinkedAccount
from protocols import auth
from tests.smtp.messages import plain
from tests.smtp.people import add_address, make_account
from tests.support import require_program

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def account(smtp_server):
    return make_account("alice@proton.test", extra=["alias@proton.test"])


def connect(server) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    client.ehlo("client.test")
    return client


def test_ehlo_advertises_what_mail_programs_need(smtp_server):
    with connect(smtp_server) as client:
        assert client.has_extn("starttls")
        assert client.has_extn("8bitmime")
        assert client.has_extn("smtputf8")
        assert client.has_extn("size")
        assert int(client.esmtp_features["size"]) > 0
        # Loopback: logging in without TLS is allowed, as the official bridge.
        assert set(client.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}


def test_starttls_uses_the_bridge_certificate(smtp_server, account):
    with connect(smtp_server) as client:
        client.starttls(context=smtp_server.client_tls_context())
        client.ehlo("client.test")

        assert not client.has_extn("starttls")
        client.login("alice@proton.test", account.bridge_password)


def test_implicit_tls_port(smtp_server, account):
    context = smtp_server.client_tls_context()
    with smtplib.SMTP_SSL(
        "127.0.0.1", smtp_server.implicit_tls_port, context=context, timeout=30
    ) as client:
        client.ehlo("client.test")
        assert "PLAIN" in client.esmtp_features["auth"]
        client.login("alias@proton.test", account.bridge_password)


def test_mail_needs_a_login_first(smtp_server):
    with connect(smtp_server) as client:
        code, reply = client.mail("alice@proton.test")

    assert code == 530
    assert b"5.7.0" in reply


def test_wrong_password_is_refused(smtp_server, account):
    with connect(smtp_server) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("alice@proton.test", "not-the-password")

    assert refused.value.smtp_code == 535
    assert b"5.7.8" in refused.value.smtp_error


def test_repeated_failures_are_throttled_with_a_temporary_error(smtp_server, account):
    with connect(smtp_server) as client:
        for _ in range(auth.MAX_FAILURES_PER_USER):
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("alice@proton.test", "wrong")

    with connect(smtp_server) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("alice@proton.test", account.bridge_password)

    assert refused.value.smtp_code == 454
    assert b"4.7.0" in refused.value.smtp_error
    assert b"try again in 15 minutes" in refused.value.smtp_error
    cache.clear()


def test_sender_must_be_a_sending_address_of_the_account(smtp_server, account):
    add_address(account, "receive-only@proton.test", send=False)
    add_address(account, "gone@proton.test", status=Address.Status.DISABLED)
    make_account("mallory@proton.test", owner_name="mallory")

    with connect(smtp_server) as client:
        client.login("alice@proton.test", account.bridge_password)
        for sender in (
            "mallory@proton.test",
            "receive-only@proton.test",
            "gone@proton.test",
            "someone@example.org",
        ):
            code, reply = client.mail(sender)
            assert code == 550
            assert reply.startswith(b"5.7.1 " + sender.encode())
            assert b"not an address this login may send from" in reply

        code, _ = client.mail("ALIAS+lists@proton.test")
        assert code == 250


def test_split_mode_sends_only_from_the_login_address(smtp_server, account):
    account.address_mode = LinkedAccount.AddressMode.SPLIT
    account.save()

    with connect(smtp_server) as client:
        client.login("alias@proton.test", account.bridge_password)
        assert client.mail("alice@proton.test")[0] == 550
        assert client.mail("alias@proton.test")[0] == 250


@pytest.mark.parametrize("smtp_options", [{"max_size": 64 * 1024}])
def test_oversize_messages_are_refused(smtp_server, account):
    limit = 64 * 1024
    message = bytes(plain("alice@proton.test", "bob@example.org"))
    oversize = message + (b"z" * 998 + b"\r\n") * (limit // 1000 + 1)

    with connect(smtp_server) as client:
        client.login("alice@proton.test", account.bridge_password)

        # Declared size: refused at MAIL.
        code, reply = client.mail("alice@proton.test", [f"SIZE={limit + 1}"])
        assert (code, reply[:5]) == (552, b"5.3.4")
        assert b"larger than the 64 KB this bridge accepts" in reply

        # Undeclared: refused after DATA, before anything is sent.
        client.rset()
        assert client.mail("alice@proton.test")[0] == 250
        assert client.rcpt("bob@example.org")[0] == 250
        code, reply = client.data(oversize)
        assert (code, reply[:5]) == (552, b"5.3.4")


def test_swaks_logs_in_over_starttls_and_with_login(smtp_server, account):
    swaks = require_program("swaks")

    for mechanism, extra in (("PLAIN", ["--tls"]), ("LOGIN", [])):
        done = subprocess.run(
            [
                swaks,
                "--server",
                "127.0.0.1",
                "--port",
                str(smtp_server.port),
                "--auth",
                mechanism,
                "--auth-user",
                "alice@proton.test",
                f"--auth-password={account.bridge_password}",
                "--from",
                "alice@proton.test",
                "--to",
                "bob@example.org",
                "--quit-after",
                "MAIL",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "235 2.7.0" in done.stdout
        assert "250 2.1.0 Sender OK" in done.stdout


def test_swaks_implicit_tls(smtp_server, account):
    swaks = require_program("swaks")

    done = subprocess.run(
        [
            swaks,
            "--server",
            "127.0.0.1",
            "--port",
            str(smtp_server.implicit_tls_port),
            "--tls-on-connect",
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice@proton.test",
            "--auth-password=wrong",
            "--from",
            "alice@proton.test",
            "--to",
            "bob@example.org",
            "--quit-after",
            "AUTH",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert "535 5.7.8" in done.stdout


def test_tls_context_trusts_only_our_certificate(smtp_server):
    with connect(smtp_server) as client:
        with pytest.raises(ssl.SSLError):
            client.starttls(context=ssl.create_default_context())
