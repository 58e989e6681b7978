"""Framing: lines, literals, continuations, limits and recovery."""

import pytest

from protocols.imap import (
    AuthenticateResponse,
    CommandReader,
    IdleDone,
    NeedContinuation,
    ParseError,
    ReaderLimits,
)
from protocols.imap import commands as c

from .helpers import parse, parse_error, read_events

SMALL = ReaderLimits(
    max_line_length=100,
    max_append_size=1000,
    max_literal_size=50,
    max_command_size=400,
)


def test_synchronizing_literal_asks_for_continuation_first() -> None:
    reader = CommandReader()
    reader.feed(b"a1 LOGIN {5}\r\n")
    assert list(reader.events()) == [NeedContinuation("a1", 5, "LOGIN")]

    reader.feed(b"alice {6}\r\n")
    assert list(reader.events()) == [NeedContinuation("a1", 6, "LOGIN")]

    reader.feed(b"secret\r\n")
    assert list(reader.events()) == [
        c.LoginCommand(tag="a1", username="alice", password="secret")
    ]


def test_non_synchronizing_literal_needs_no_continuation() -> None:
    events = read_events(b"a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n")
    assert events == [c.LoginCommand(tag="a1", username="alice", password="secret")]


def test_zero_length_synchronizing_literal() -> None:
    events = read_events(b"a1 LOGIN alice {0}\r\n\r\n")
    assert events == [
        NeedContinuation("a1", 0, "LOGIN"),
        c.LoginCommand(tag="a1", username="alice", password=""),
    ]


def test_continuation_names_the_command() -> None:
    (event,) = read_events(b"a1 uid search CHARSET UTF-8 TEXT {4}\r\n")
    assert event == NeedContinuation("a1", 4, "UID SEARCH")


def test_refused_literal_leaves_the_next_line_a_command() -> None:
    reader = CommandReader()
    reader.feed(b"a1 APPEND Missing {500000}\r\n")
    (event,) = reader.events()
    assert isinstance(event, NeedContinuation) and event.command == "APPEND"

    # The connection answers "a1 NO [TRYCREATE]" instead of "+".
    reader.refuse_literal()
    reader.feed(b"a2 NOOP\r\n")
    assert list(reader.events()) == [c.NoopCommand(tag="a2")]


def test_refuse_literal_without_a_waiting_literal_is_a_mistake() -> None:
    reader = CommandReader()
    with pytest.raises(RuntimeError):
        reader.refuse_literal()


def test_literal_bytes_that_look_like_commands_stay_data() -> None:
    message = b"a2 LOGOUT\r\n* BYE\r\n"
    command = parse(b"a1 APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n")
    assert isinstance(command, c.AppendCommand)
    assert command.message == message


def test_continuation_response_line() -> None:
    assert NeedContinuation("a1", 5).response() == b"+ Ready for literal data\r\n"


PIPELINE = (
    b"a1 NOOP\r\n"
    b"a2 LOGIN {5+}\r\nalice {6}\r\nsecret\r\n"
    b"a3 APPEND INBOX (\\Seen) {12+}\r\nhello\r\nworld\r\n"
    b"a4 BOGUS\r\n"
    b"a5 UID FETCH 1:* (FLAGS)\r\n"
)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, None], ids=lambda n: f"chunk-{n}")
def test_any_split_of_the_input_gives_the_same_events(chunk: int | None) -> None:
    assert read_events(PIPELINE, chunk=chunk) == read_events(PIPELINE)


def test_pipelined_commands_in_order() -> None:
    events = read_events(PIPELINE)
    kinds = [type(event).__name__ for event in events]
    assert kinds == [
        "NoopCommand",
        "NeedContinuation",
        "LoginCommand",
        "AppendCommand",
        "ParseError",
        "FetchCommand",
    ]


def test_bare_lf_ends_a_line() -> None:
    assert read_events(b"a1 NOOP\na2 NOOP\n") == [
        c.NoopCommand(tag="a1"),
        c.NoopCommand(tag="a2"),
    ]


def test_empty_lines_between_commands_are_ignored() -> None:
    assert read_events(b"\r\n\r\na1 NOOP\r\n") == [c.NoopCommand(tag="a1")]


def test_cr_without_lf_is_refused() -> None:
    (error, after) = read_events(b"a1 NOOP\rGARBAGE\r\na2 NOOP\r\n")
    assert isinstance(error, ParseError)
    assert error.tag == "a1" and "CR without LF" in error.message
    assert after == c.NoopCommand(tag="a2")


def test_nul_byte_is_refused() -> None:
    error = parse_error(b"a1 LOGIN al\x00ice secret")
    assert error.tag == "a1" and "NUL" in error.message


def test_untagged_error_renders_star_bad() -> None:
    error = parse_error(b"+++ NOOP")
    assert error.tag is None
    assert error.response() == b"* BAD missing or invalid tag\r\n"


def test_tagged_error_renders_tag_bad() -> None:
    assert parse_error(b"a1 FROB").response() == b"a1 BAD unknown command FROB\r\n"


# -- limits --------------------------------------------------------------------


def test_oversize_synchronizing_literal_is_refused_before_continuation() -> None:
    reader = CommandReader(SMALL)
    reader.feed(b"a1 LOGIN alice {51}\r\n")
    (error,) = reader.events()
    assert isinstance(error, ParseError)
    assert (error.tag, error.status, error.code) == ("a1", "BAD", "TOOBIG")

    # The client was never invited to send the literal: the next line is a command.
    reader.feed(b"a2 NOOP\r\n")
    assert list(reader.events()) == [c.NoopCommand(tag="a2")]


def test_oversize_non_synchronizing_literal_is_discarded_unbuffered() -> None:
    reader = CommandReader(SMALL)
    reader.feed(b"a1 LOGIN alice {5000+}\r\n")
    assert list(reader.events()) == []

    # The literal holds command-like text; none of it may become a command.
    junk = b"a9 DELETE INBOX\r\n" * 10
    for _ in range(5000 // len(junk)):
        reader.feed(junk)
        assert list(reader.events()) == []
        assert reader.buffered == 0
    reader.feed(junk[: 5000 % len(junk)])

    reader.feed(b"\r\na2 NOOP\r\n")
    (error, noop) = reader.events()
    assert isinstance(error, ParseError)
    assert (error.tag, error.code) == ("a1", "TOOBIG")
    assert noop == c.NoopCommand(tag="a2")


def test_discarded_command_skips_its_later_literals_too() -> None:
    data = b"a1 LOGIN {999+}\r\n" + b"x" * 999 + b" {3+}\r\nabc\r\na2 NOOP\r\n"
    (error, noop) = read_events(data, limits=SMALL)
    assert isinstance(error, ParseError) and error.tag == "a1"
    assert noop == c.NoopCommand(tag="a2")


def test_append_message_has_its_own_larger_limit() -> None:
    message = b"x" * 900
    command = parse_events_single(b"a1 APPEND INBOX {900+}\r\n" + message + b"\r\n")
    assert isinstance(command, c.AppendCommand) and command.message == message


def parse_events_single(data: bytes) -> object:
    (event,) = read_events(data, limits=SMALL)
    return event


def test_oversize_append_is_refused_with_no_toobig() -> None:
    (error,) = read_events(b"a1 APPEND INBOX {1001}\r\n", limits=SMALL)
    assert isinstance(error, ParseError)
    assert error.response().startswith(b"a1 NO [TOOBIG] literal of 1001 octets")


def test_append_mailbox_literal_gets_the_small_limit() -> None:
    (error,) = read_events(b"a1 APPEND {60}\r\n", limits=SMALL)
    assert isinstance(error, ParseError) and error.status == "BAD"


def test_absurd_literal_size_is_refused() -> None:
    (error,) = read_events(b"a1 LOGIN a {" + b"9" * 5000 + b"}\r\n")
    assert isinstance(error, ParseError) and error.code == "TOOBIG"


def test_line_too_long_is_refused_and_reader_recovers() -> None:
    reader = CommandReader(SMALL)
    reader.feed(b"a1 SEARCH " + b"SEEN " * 30)
    assert list(reader.events()) == []
    reader.feed(b"SEEN " * 1000)
    assert list(reader.events()) == []
    assert reader.buffered == 0

    reader.feed(b"SEEN\r\na2 NOOP\r\n")
    (error, noop) = reader.events()
    assert isinstance(error, ParseError)
    assert error.tag == "a1" and "too long" in error.message
    assert noop == c.NoopCommand(tag="a2")


def test_line_too_long_arriving_whole_is_refused() -> None:
    (error,) = read_events(b"a1 SEARCH " + b"SEEN " * 30 + b"\r\n", limits=SMALL)
    assert isinstance(error, ParseError) and "too long" in error.message


def test_overlong_line_ending_in_non_sync_literal_discards_it() -> None:
    data = (
        b"a1 LOGIN " + b"u" * 200 + b" {20+}\r\n" + b"a9 DELETE INBOX\r\n..." + b"\r\n"
    )
    (error, noop) = read_events(data + b"a2 NOOP\r\n", limits=SMALL, chunk=16)
    assert isinstance(error, ParseError) and error.tag == "a1"
    assert noop == c.NoopCommand(tag="a2")


def test_command_size_limit_counts_all_literals() -> None:
    literal = b"{40+}\r\n" + b"x" * 40
    data = b"a1 ID (" + b" ".join([b'"k" ' + literal] * 10) + b")\r\n"
    (error,) = read_events(data, limits=SMALL)
    assert isinstance(error, ParseError) and "command too long" in error.message


# -- IDLE and AUTHENTICATE -------------------------------------------------------


def test_idle_done() -> None:
    reader = CommandReader()
    reader.feed(b"a1 IDLE\r\ndone\r\na2 NOOP\r\n")
    assert reader.next_event() == c.IdleCommand(tag="a1")

    reader.expect_idle_done("a1")
    assert list(reader.events()) == [IdleDone("a1"), c.NoopCommand(tag="a2")]


def test_idle_without_done_is_an_error_for_the_idle_tag() -> None:
    reader = CommandReader()
    reader.feed(b"a1 IDLE\r\na2 NOOP\r\n")
    reader.next_event()
    reader.expect_idle_done("a1")
    (error,) = reader.events()
    assert isinstance(error, ParseError)
    assert error.tag == "a1" and "DONE" in error.message


def test_refused_idle_leaves_the_next_line_a_command() -> None:
    reader = CommandReader()
    reader.feed(b"a1 IDLE\r\na2 NOOP\r\n")
    reader.next_event()
    assert reader.next_event() == c.NoopCommand(tag="a2")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            b"AGFsaWNlAHNlY3JldA==",
            AuthenticateResponse("a1", b"\0alice\0secret"),
            id="base64",
        ),
        pytest.param(b"", AuthenticateResponse("a1", b""), id="empty"),
        pytest.param(
            b"*", AuthenticateResponse("a1", b"", cancelled=True), id="cancel"
        ),
    ],
)
def test_authenticate_response(line: bytes, expected: AuthenticateResponse) -> None:
    reader = CommandReader()
    reader.feed(b"a1 AUTHENTICATE PLAIN\r\n")
    reader.next_event()
    reader.expect_authenticate_response("a1")
    reader.feed(line + b"\r\n")
    assert list(reader.events()) == [expected]


def test_authenticate_response_with_bad_base64() -> None:
    reader = CommandReader()
    reader.expect_authenticate_response("a1")
    reader.feed(b"not base64!\r\n")
    (error,) = reader.events()
    assert isinstance(error, ParseError) and error.tag == "a1"


def test_authenticate_response_repr_hides_data() -> None:
    assert "secret" not in repr(AuthenticateResponse("a1", b"\0alice\0secret"))


def test_expectation_cannot_interrupt_a_command() -> None:
    reader = CommandReader()
    reader.feed(b"a1 LOGIN {5}\r\n")
    reader.next_event()
    with pytest.raises(RuntimeError):
        reader.expect_idle_done("a1")


# -- UTF8=ACCEPT ---------------------------------------------------------------


def test_8bit_mailbox_name_needs_utf8_accept() -> None:
    error = parse_error('a1 SELECT "Entwürfe"'.encode())
    assert "8-bit" in error.message


def test_utf8_mailbox_names_after_enable() -> None:
    reader = CommandReader(utf8_mailboxes=True)
    reader.feed('a1 SELECT "Entwürfe"\r\n'.encode())
    assert list(reader.events()) == [c.SelectCommand(tag="a1", mailbox="Entwürfe")]
