"""Encoding of replies: strings, lists, flags, dates, names, status lines."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from protocols.imap import wire


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        pytest.param("hello", b'"hello"', id="plain"),
        pytest.param("", b'""', id="empty"),
        pytest.param('say "hi" \\o/', b'"say \\"hi\\" \\\\o/"', id="escapes"),
        pytest.param("Grüße", b"{7}\r\nGr\xc3\xbc\xc3\x9fe", id="8bit-literal"),
        pytest.param(b"a\r\nb", b"{4}\r\na\r\nb", id="crlf-literal"),
        pytest.param(b"a\x00b", b"{3}\r\na\x00b", id="nul-literal"),
    ],
)
def test_quote_or_literal(value: str | bytes, encoded: bytes) -> None:
    assert wire.quote_or_literal(value) == encoded
    assert wire.encode_string(value) == encoded


def test_long_strings_become_literals() -> None:
    value = b"x" * (wire.MAX_QUOTED_LENGTH + 1)
    assert wire.quote_or_literal(value).startswith(b"{4097}\r\n")


def test_quote_refuses_what_needs_a_literal() -> None:
    with pytest.raises(ValueError):
        wire.quote(b"a\nb")


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(None, b"NIL"), ("x", b'"x"'), ("NIL", b'"NIL"')],
)
def test_encode_nstring(value: str | None, encoded: bytes) -> None:
    assert wire.encode_nstring(value) == encoded


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("INBOX", b"INBOX"),
        ("nil", b'"nil"'),
        ("two words", b'"two words"'),
        ("", b'""'),
        ("a]b", b'"a]b"'),
    ],
)
def test_encode_astring(value: str, encoded: bytes) -> None:
    assert wire.encode_astring(value) == encoded


def test_lists() -> None:
    assert wire.format_list([b"A", b'"b"']) == b'(A "b")'
    assert wire.format_list([]) == b"()"
    assert wire.format_list_or_nil([]) == b"NIL"


def test_format_flags() -> None:
    flags = ["\\Seen", "\\Answered", "$Forwarded", "\\*"]
    assert wire.format_flags(flags) == b"(\\Seen \\Answered $Forwarded \\*)"


@pytest.mark.parametrize("flag", ["two words", "a(b", "", "\\"])
def test_format_flags_refuses_non_atoms(flag: str) -> None:
    with pytest.raises(ValueError):
        wire.format_flags([flag])


@pytest.mark.parametrize(
    ("moment", "encoded"),
    [
        pytest.param(
            datetime(2024, 2, 5, 9, 3, 7, tzinfo=UTC),
            b'"05-Feb-2024 09:03:07 +0000"',
            id="utc",
        ),
        pytest.param(
            datetime(2024, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=7))),
            b'"31-Dec-2024 23:59:59 -0700"',
            id="negative-offset",
        ),
        pytest.param(
            datetime(2024, 6, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            b'"01-Jun-2024 00:00:00 +0530"',
            id="half-hour-offset",
        ),
        pytest.param(
            datetime(2024, 6, 1), b'"01-Jun-2024 00:00:00 +0000"', id="naive-is-utc"
        ),
    ],
)
def test_format_internaldate(moment: datetime, encoded: bytes) -> None:
    assert wire.format_internaldate(moment) == encoded


def test_internaldate_round_trips_through_append() -> None:
    from protocols.imap import commands as c

    from .helpers import parse

    moment = datetime(2024, 3, 5, 9, 15, 0, tzinfo=timezone(timedelta(hours=-8)))
    line = b"a1 APPEND INBOX " + wire.format_internaldate(moment) + b" {1+}\r\nx"
    command = parse(line)
    assert isinstance(command, c.AppendCommand)
    assert command.internal_date == moment


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("INBOX", b'"INBOX"'),
        ("Entwürfe", b'"Entw&APw-rfe"'),
        ("Tom & Jerry", b'"Tom &- Jerry"'),
        ("日本語", b'"&ZeVnLIqe-"'),
    ],
)
def test_encode_mailbox_name(name: str, encoded: bytes) -> None:
    assert wire.encode_mailbox_name(name) == encoded


def test_encode_mailbox_name_utf8() -> None:
    assert wire.encode_mailbox_name("Entwürfe", utf8=True) == (
        b"{9}\r\nEntw\xc3\xbcrfe"
    )


def test_response_lines() -> None:
    assert wire.response_line("a1", "OK", "done") == b"a1 OK done\r\n"
    assert wire.response_line(None, "BAD", "what?") == b"* BAD what?\r\n"
    assert wire.response_line("a1", "OK", "done", code="READ-WRITE") == (
        b"a1 OK [READ-WRITE] done\r\n"
    )


def test_response_text_cannot_inject_lines() -> None:
    line = wire.response_line("a1", "NO", "bad\r\n* OK injected")
    assert line == b"a1 NO bad??* OK injected\r\n"


def test_untagged_and_continuation() -> None:
    assert wire.untagged(b"3", "EXISTS") == b"* 3 EXISTS\r\n"
    assert wire.continuation("idling") == b"+ idling\r\n"
