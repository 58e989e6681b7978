"""A client that stops reading does not keep its connection and replies forever.

The reply of a FETCH waits in memory until the peer reads it; when nothing is
read for `write_stall_seconds`, the session ends and its memory is freed.
"""

import socket
import time

import pytest

from tests.fixtures.imap import HOST, index_raw

pytestmark = pytest.mark.django_db(transaction=True)

BODY_SIZE = 1_000_000
MESSAGES = 24


@pytest.fixture
def imap_session_options():
    return {"write_stall_seconds": 1.0}


def message(number: int) -> bytes:
    header = f"From: bob@example.com\r\nSubject: big {number}\r\n\r\n"
    return header.encode() + b"x" * BODY_SIZE + b"\r\n"


def wait_until(condition, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_peer_that_stops_reading_is_dropped(imap_server, mail_account):
    index_raw(mail_account, [message(number) for number in range(MESSAGES)])
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer.connect((HOST, imap_server.port))
    peer.settimeout(30)
    login = f"a1 LOGIN {mail_account.email} {mail_account.password}\r\n"
    peer.sendall(login.encode() + b"a2 EXAMINE INBOX\r\n")
    received = b""
    while b"\r\na2 " not in received:
        chunk = peer.recv(4096)
        assert chunk, "the server closed the connection before the FETCH"
        received += chunk
    assert b"\r\na2 OK" in received
    peer.sendall(b"a3 FETCH 1:* BODY.PEEK[]\r\n")

    # Tens of megabytes are due and nothing is read: the session must end.
    assert wait_until(lambda: not imap_server.service.sessions)
    peer.close()
