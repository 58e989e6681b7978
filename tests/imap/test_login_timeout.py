"""A connection that never logs in is closed long before a logged-in one.

The listener takes a bounded number of connections; strangers holding them
open without logging in would otherwise lock everybody out for the whole
autologout time (RFC 3501 asks 30 minutes only after authentication).
"""

import time

import pytest

from tests.fixtures.imap import Wire

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN_TIMEOUT = 1.0


@pytest.fixture
def imap_session_options():
    return {"login_timeout_seconds": LOGIN_TIMEOUT}


def test_a_silent_stranger_is_sent_away(imap_server):
    stranger = Wire(imap_server.port)

    farewell = stranger.line()

    assert farewell.startswith(b"* BYE ")
    assert stranger.line() == b""
    stranger.close()


def test_an_unfinished_authenticate_is_sent_away(imap_server):
    stranger = Wire(imap_server.port)
    stranger.send(b"a1 AUTHENTICATE PLAIN\r\n")
    assert stranger.line().startswith(b"+")

    assert stranger.line().startswith(b"* BYE ")
    stranger.close()


def test_a_logged_in_client_may_stay_quiet_longer(imap_server, mail_account):
    client = Wire(imap_server.port)
    login = f"LOGIN {mail_account.email} {mail_account.password}".encode()
    assert client.command(b"b1", login)[-1].startswith(b"b1 OK")

    time.sleep(LOGIN_TIMEOUT * 2)

    assert client.command(b"b2", b"NOOP")[-1].startswith(b"b2 OK")
    client.close()
