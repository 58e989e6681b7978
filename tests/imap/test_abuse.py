"""A hostile or careless client meets the listener.

Each case sends what no well-behaved mail program would and expects a BAD or
NO with a reason, the connection still usable afterwards, and no more memory
or time spent than an ordinary request needs.
"""

import pytest

from tests.fixtures.imap import Wire, index_raw

pytestmark = pytest.mark.django_db(transaction=True)

# Small enough that a test message of a few hundred kilobytes reaches it.
FETCH_REPLY_LIMIT = 1_000_000

BODY_SIZE = 300_000


@pytest.fixture
def imap_session_options():
    return {"max_fetch_reply": FETCH_REPLY_LIMIT}


def message(subject: str, body: str) -> bytes:
    lines = [
        "From: Bob Example <bob@example.com>",
        "To: Alice <alice@proton.test>",
        f"Subject: {subject}",
        "Date: Wed, 01 May 2024 12:00:00 +0200",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.fixture
def wire(imap_server, mail_account):
    """A raw conversation, logged in, with INBOX examined."""
    index_raw(mail_account, [message("big", "x" * BODY_SIZE)])
    conversation = Wire(imap_server.port)
    login = f"LOGIN {mail_account.email} {mail_account.password}".encode()
    assert conversation.command(b"a0", login)[-1].startswith(b"a0 OK")
    assert conversation.command(b"a1", b"EXAMINE INBOX")[-1].startswith(b"a1 OK")
    yield conversation
    conversation.close()


def test_the_same_body_asked_for_many_times_is_refused(wire):
    # Every partial overlaps the others: the reply would be 10 bodies long.
    partials = b" ".join(b"BODY.PEEK[]<%d.%d>" % (n, BODY_SIZE) for n in range(10))
    lines = wire.command(b"b1", b"FETCH 1 (" + partials + b")")

    assert lines[-1].startswith(b"b1 NO [LIMIT] ")
    assert not any(line.startswith(b"* 1 FETCH") for line in lines)
    assert wire.command(b"b2", b"NOOP")[-1].startswith(b"b2 OK")


def test_ordinary_section_fetches_stay_allowed(wire):
    lines = wire.command(
        b"c1", b"FETCH 1 (RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1])"
    )

    assert lines[0].startswith(b"* 1 FETCH (RFC822.SIZE ")
    assert lines[-1].startswith(b"c1 OK")


def test_a_repeated_whole_body_within_the_limit_is_sent(wire):
    lines = wire.command(b"d1", b"FETCH 1 (BODY.PEEK[] BODY.PEEK[]<0.100>)")

    assert lines[0].startswith(b"* 1 FETCH (BODY[] {")
    assert lines[-1].startswith(b"d1 OK")


def test_no_large_literal_is_taken_before_login(imap_server):
    # APPEND cannot succeed before login; inviting its megabytes would let
    # strangers make the server hold them, once per connection.
    stranger = Wire(imap_server.port)
    stranger.send(b"e1 APPEND INBOX {5000000}\r\n")
    refusal = stranger.line()

    assert refusal.startswith(b"e1 NO [TOOBIG] ")
    assert stranger.command(b"e2", b"NOOP")[-1].startswith(b"e2 OK")
    stranger.close()


def test_a_long_command_of_small_literals_is_refused_before_login(imap_server):
    stranger = Wire(imap_server.port)
    pieces = b"".join(b" {60000+}\r\n" + b"p" * 60000 for _ in range(3))
    stranger.send(b"f1 LOGIN" + pieces + b"\r\n")

    refusal = stranger.until_tagged(b"f1")[-1]
    assert refusal.startswith(b"f1 BAD ")
    assert b"too long" in refusal
    assert stranger.command(b"f2", b"NOOP")[-1].startswith(b"f2 OK")
    stranger.close()


def test_a_large_append_is_invited_after_login(imap_server, mail_account):
    client = Wire(imap_server.port)
    login = f"LOGIN {mail_account.email} {mail_account.password}".encode()
    assert client.command(b"g0", login)[-1].startswith(b"g0 OK")

    client.send(b"g1 APPEND INBOX {5000000}\r\n")
    assert client.line().startswith(b"+ ")
    client.close()


def test_a_message_with_nul_bytes_is_not_appended(imap_server, mail_account):
    # A literal never holds NUL (RFC 3501 CHAR8); stored, it would later be
    # sent to every mail program that fetches it.
    client = Wire(imap_server.port)
    login = f"LOGIN {mail_account.email} {mail_account.password}".encode()
    assert client.command(b"h0", login)[-1].startswith(b"h0 OK")

    client.send(b"h1 APPEND INBOX {11+}\r\nSubject: \x00\r\n\r\n")
    assert client.until_tagged(b"h1")[-1].startswith(b"h1 BAD ")
    assert client.command(b"h2", b"NOOP")[-1].startswith(b"h2 OK")
    client.close()
