"""SEARCH criteria become a tree of typed keys."""

from datetime import date

import pytest

from protocols.imap import commands as c
from protocols.imap.searchkeys import (
    AllKey,
    AndKey,
    BodyKey,
    DateKey,
    FlagKey,
    HeaderKey,
    ModSeqKey,
    NotKey,
    OrKey,
    SearchKey,
    SequenceKey,
    SizeKey,
    TextKey,
)
from protocols.imap.sequence import SequenceSet

from .helpers import parse, parse_error

FEB_1 = date(2024, 2, 1)

KEYS = [
    pytest.param(b"ALL", AllKey(), id="all"),
    pytest.param(b"ANSWERED", FlagKey("\\Answered"), id="answered"),
    pytest.param(b"DELETED", FlagKey("\\Deleted"), id="deleted"),
    pytest.param(b"DRAFT", FlagKey("\\Draft"), id="draft"),
    pytest.param(b"FLAGGED", FlagKey("\\Flagged"), id="flagged"),
    pytest.param(b"RECENT", FlagKey("\\Recent"), id="recent"),
    pytest.param(b"SEEN", FlagKey("\\Seen"), id="seen"),
    pytest.param(b"UNANSWERED", FlagKey("\\Answered", False), id="unanswered"),
    pytest.param(b"UNDELETED", FlagKey("\\Deleted", False), id="undeleted"),
    pytest.param(b"UNDRAFT", FlagKey("\\Draft", False), id="undraft"),
    pytest.param(b"UNFLAGGED", FlagKey("\\Flagged", False), id="unflagged"),
    pytest.param(b"unseen", FlagKey("\\Seen", False), id="unseen-lower-case"),
    pytest.param(b"OLD", FlagKey("\\Recent", False), id="old"),
    pytest.param(
        b"NEW",
        AndKey((FlagKey("\\Recent"), FlagKey("\\Seen", False))),
        id="new",
    ),
    pytest.param(b"KEYWORD $Forwarded", FlagKey("$Forwarded"), id="keyword"),
    pytest.param(b"UNKEYWORD Junk", FlagKey("Junk", False), id="unkeyword"),
    pytest.param(b"BCC bob", HeaderKey("Bcc", "bob"), id="bcc"),
    pytest.param(b"CC bob", HeaderKey("Cc", "bob"), id="cc"),
    pytest.param(b'FROM "Bob Smith"', HeaderKey("From", "Bob Smith"), id="from"),
    pytest.param(b"SUBJECT {5}\r\nhello", HeaderKey("Subject", "hello"), id="subject"),
    pytest.param(b"TO bob", HeaderKey("To", "bob"), id="to"),
    pytest.param(
        b'HEADER Message-ID "<a@b>"', HeaderKey("Message-ID", "<a@b>"), id="header"
    ),
    pytest.param(b'HEADER X-TUID ""', HeaderKey("X-TUID", ""), id="header-exists"),
    pytest.param(b"BODY invoice", BodyKey("invoice"), id="body"),
    pytest.param(b"TEXT invoice", TextKey("invoice"), id="text"),
    pytest.param(b"BEFORE 1-Feb-2024", DateKey("before", FEB_1), id="before"),
    pytest.param(b"ON 01-feb-2024", DateKey("on", FEB_1), id="on"),
    pytest.param(b'SINCE "1-Feb-2024"', DateKey("since", FEB_1), id="since-quoted"),
    pytest.param(
        b"SENTBEFORE 1-Feb-2024", DateKey("before", FEB_1, sent=True), id="sentbefore"
    ),
    pytest.param(b"SENTON 1-Feb-2024", DateKey("on", FEB_1, sent=True), id="senton"),
    pytest.param(
        b"SENTSINCE 1-Feb-2024", DateKey("since", FEB_1, sent=True), id="sentsince"
    ),
    pytest.param(b"LARGER 1024", SizeKey("larger", 1024), id="larger"),
    pytest.param(b"SMALLER 10", SizeKey("smaller", 10), id="smaller"),
    pytest.param(
        b"UID 1:5,9", SequenceKey(SequenceSet.parse("1:5,9"), uid=True), id="uid"
    ),
    pytest.param(b"2:*", SequenceKey(SequenceSet.parse("2:*")), id="sequence-set"),
    pytest.param(b"NOT SEEN", NotKey(FlagKey("\\Seen")), id="not"),
    pytest.param(
        b"OR SEEN FLAGGED",
        OrKey(FlagKey("\\Seen"), FlagKey("\\Flagged")),
        id="or",
    ),
    pytest.param(
        b"OR (FROM a TO b) NOT (SMALLER 5)",
        OrKey(
            AndKey((HeaderKey("From", "a"), HeaderKey("To", "b"))),
            NotKey(SizeKey("smaller", 5)),
        ),
        id="or-of-lists",
    ),
    pytest.param(
        b"OR OR SEEN DRAFT DELETED",
        OrKey(OrKey(FlagKey("\\Seen"), FlagKey("\\Draft")), FlagKey("\\Deleted")),
        id="nested-or",
    ),
    pytest.param(b"((SEEN))", FlagKey("\\Seen"), id="nested-parentheses"),
    pytest.param(
        b"UNDELETED SINCE 1-Feb-2024 1:10",
        AndKey(
            (
                FlagKey("\\Deleted", False),
                DateKey("since", FEB_1),
                SequenceKey(SequenceSet.parse("1:10")),
            )
        ),
        id="implicit-and",
    ),
    pytest.param(b"MODSEQ 620162338", ModSeqKey(620162338), id="modseq"),
    pytest.param(
        b'MODSEQ "/flags/\\\\draft" all 620162338',
        ModSeqKey(620162338),
        id="modseq-entry",
    ),
]


@pytest.mark.parametrize(("criteria", "expected"), KEYS)
def test_search_key(criteria: bytes, expected: SearchKey) -> None:
    command = parse(b"a1 SEARCH " + criteria)
    assert isinstance(command, c.SearchCommand), command
    assert command.criteria == expected


def test_utf8_search_string() -> None:
    command = parse(b"a1 SEARCH CHARSET UTF-8 SUBJECT {6}\r\nEntw\xc3\xbc")
    assert isinstance(command, c.SearchCommand)
    assert command.criteria == HeaderKey("Subject", "Entwü")


def test_latin1_search_string_is_decoded() -> None:
    command = parse(b'a1 SEARCH CHARSET ISO-8859-1 BODY "gr\xfc\xdfe"')
    assert isinstance(command, c.SearchCommand)
    assert command.criteria == BodyKey("grüße")


def test_unknown_charset_is_refused_with_no_badcharset() -> None:
    error = parse_error(b"a1 SEARCH CHARSET X-KLINGON TEXT qapla")
    assert error.status == "NO"
    assert error.code is not None and error.code.startswith("BADCHARSET")
    assert error.response() == (
        b"a1 NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset\r\n"
    )


@pytest.mark.parametrize(
    ("criteria", "reason"),
    [
        pytest.param(b"", "expected a search key", id="empty"),
        pytest.param(b"FROBNICATE", "unknown search key", id="unknown-key"),
        pytest.param(b"(SEEN", "unbalanced", id="unclosed-parenthesis"),
        pytest.param(b"SEEN)", "unexpected", id="extra-parenthesis"),
        pytest.param(b"()", "empty parenthesised", id="empty-parentheses"),
        pytest.param(b"OR SEEN", "expected a space", id="or-missing-operand"),
        pytest.param(b"NOT", "expected a space", id="not-missing-operand"),
        pytest.param(b"SINCE 31-Feb-2024", "invalid date", id="impossible-date"),
        pytest.param(b"SINCE 1-Foo-2024", "unknown month", id="bad-month"),
        pytest.param(b"SINCE 2024-02-01", "expected a date", id="iso-date"),
        pytest.param(b"LARGER -5", "expected a number", id="negative-size"),
        pytest.param(b"LARGER 99999999999", "too large", id="size-overflow"),
        pytest.param(b"UID 0:5", "invalid number", id="uid-zero"),
        pytest.param(b"1,,2", "empty element", id="bad-sequence-set"),
        pytest.param(b'SUBJECT "a\\qb"', "quoted string", id="bad-escape"),
        pytest.param(b"HEADER", "expected a space", id="header-without-name"),
        pytest.param(b"SEEN  DRAFT", "expected a search key", id="double-space"),
    ],
)
def test_bad_search(criteria: bytes, reason: str) -> None:
    error = parse_error(b"a1 SEARCH " + criteria)
    assert error.tag == "a1"
    assert reason in error.message


def test_deep_nesting_is_refused_not_a_crash() -> None:
    error = parse_error(b"a1 SEARCH " + b"NOT " * 5000 + b"SEEN")
    assert "nested too deeply" in error.message


def test_deep_parentheses_are_refused_not_a_crash() -> None:
    error = parse_error(b"a1 SEARCH " + b"(" * 5000 + b"SEEN" + b")" * 5000)
    assert "nested too deeply" in error.message
