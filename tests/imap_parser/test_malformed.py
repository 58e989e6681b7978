"""Malformed commands are refused with BAD and a reason a person can act on."""

import pytest

from .helpers import parse_error

MALFORMED = [
    # tags and command words
    pytest.param(b"NOOP", "NOOP", "missing command", id="command-only"),
    pytest.param(b"a1", "a1", "missing command", id="tag-only"),
    pytest.param(b"+a1 NOOP", None, "invalid tag", id="plus-tag"),
    pytest.param(b"(a) NOOP", None, "invalid tag", id="paren-tag"),
    pytest.param(b"a1 XYZZY", "a1", "unknown command XYZZY", id="unknown-command"),
    pytest.param(b"a1 123", "a1", "expected a command", id="numeric-command"),
    pytest.param(b"a1 UID LOGIN", "a1", "UID cannot be followed", id="uid-login"),
    pytest.param(b"a1 UID", "a1", "expected a space", id="uid-alone"),
    pytest.param(b"a1  NOOP", "a1", "expected a command", id="double-space"),
    pytest.param(b"a1 NOOP extra", "a1", "unexpected", id="extra-argument"),
    pytest.param(b"a1 NOOP ", "a1", "unexpected", id="trailing-space"),
    pytest.param(b"\xe4\xf6 NOOP", None, "invalid tag", id="8bit-tag"),
    # 8-bit and control bytes
    pytest.param(b"a1 LOGIN al\xe9 pw", "a1", "expected a space", id="8bit-in-atom"),
    pytest.param(b"a1 SELECT IN\x01BOX", "a1", "expected a space", id="ctl-in-atom"),
    pytest.param(b'a1 LOGIN "al\xff" pw', "a1", "not valid UTF-8", id="bad-utf8"),
    pytest.param(b"a1 LOGIN a b\x00c", "a1", "NUL", id="nul-in-line"),
    pytest.param(b"a1 LOGIN a {3+}\r\nb\x00c", "a1", "NUL", id="nul-in-literal"),
    # strings and literals
    pytest.param(b'a1 LOGIN "alice pw', "a1", "quoted string", id="unterminated-quote"),
    pytest.param(b'a1 LOGIN "a\\x" pw', "a1", "quoted string", id="bad-escape"),
    pytest.param(b"a1 LOGIN {3} pw", "a1", "literal must end", id="literal-mid-line"),
    pytest.param(b"a1 APPEND INBOX ~{1+}\r\nx", "a1", "binary", id="binary-literal"),
    pytest.param(b"a1 LOGIN alice", "a1", "expected a space", id="missing-password"),
    # mailboxes
    pytest.param(b"a1 SELECT Entw&APw", "a1", "unterminated", id="mutf7-unterminated"),
    pytest.param(b"a1 SELECT &AGE-", "a1", "printable ASCII", id="mutf7-encoded-ascii"),
    pytest.param(b"a1 CREATE &Jjo!-", "a1", "invalid character", id="mutf7-bad-char"),
    pytest.param(b"a1 SELECT", "a1", "expected a space", id="select-no-mailbox"),
    pytest.param(b"a1 SELECT INBOX (QRESYNC)", "a1", "unsupported", id="qresync"),
    pytest.param(b"a1 RENAME a", "a1", "expected a space", id="rename-one-name"),
    pytest.param(b"a1 CREATE x (USE (\\Foo))", "a1", "special use", id="bad-use"),
    # LIST, LSUB, STATUS
    pytest.param(b'a1 LIST ""', "a1", "expected a space", id="list-no-pattern"),
    pytest.param(b'a1 LIST (BOGUS) "" *', "a1", "selection option", id="list-bad-sel"),
    pytest.param(
        b'a1 LIST (RECURSIVEMATCH) "" *', "a1", "RECURSIVEMATCH", id="recursivematch"
    ),
    pytest.param(b'a1 LIST "" * RETURN (X)', "a1", "return option", id="list-bad-ret"),
    pytest.param(b'a1 LIST "" ("a" "b"', "a1", "unbalanced", id="list-unclosed"),
    pytest.param(b'a1 LIST "" * FOO', "a1", "RETURN", id="list-junk"),
    pytest.param(b"a1 LSUB x", "a1", "expected a space", id="lsub-no-pattern"),
    pytest.param(b"a1 STATUS INBOX (BOGUS)", "a1", "status item", id="status-item"),
    pytest.param(b"a1 STATUS INBOX ()", "a1", "empty status", id="status-empty"),
    pytest.param(b"a1 STATUS INBOX MESSAGES", "a1", "'('", id="status-no-list"),
    # APPEND
    pytest.param(b"a1 APPEND INBOX hello", "a1", "literal", id="append-atom"),
    pytest.param(b'a1 APPEND INBOX "hi"', "a1", "date-time", id="append-quoted"),
    pytest.param(
        b'a1 APPEND INBOX "31-Feb-2024 10:00:00 +0000" {1+}\r\nx',
        "a1",
        "invalid date",
        id="append-impossible-date",
    ),
    pytest.param(
        b'a1 APPEND INBOX "01-Feb-2024 25:00:00 +0000" {1+}\r\nx',
        "a1",
        "invalid time",
        id="append-bad-hour",
    ),
    pytest.param(
        b'a1 APPEND INBOX "01-Feb-2024 10:00:00 0000" {1+}\r\nx',
        "a1",
        "date-time like",
        id="append-zone-no-sign",
    ),
    pytest.param(
        b'a1 APPEND INBOX "01-Feb-24 10:00:00 +0000" {1+}\r\nx',
        "a1",
        "date-time like",
        id="append-two-digit-year",
    ),
    pytest.param(
        b"a1 APPEND INBOX (\\Recent) {1+}\r\nx",
        "a1",
        "cannot be set",
        id="append-recent",
    ),
    pytest.param(
        b"a1 APPEND INBOX (\\Seen {1+}\r\nx", "a1", "expected a flag", id="append-flags"
    ),
    pytest.param(
        b"a1 APPEND INBOX {1+}\r\nx {1+}\r\ny", "a1", "one message", id="multiappend"
    ),
    # sequence sets
    pytest.param(b"a1 FETCH 0 FLAGS", "a1", "invalid number", id="seq-zero"),
    pytest.param(b"a1 FETCH 1: FLAGS", "a1", "invalid number", id="seq-open"),
    pytest.param(b"a1 FETCH 1,,2 FLAGS", "a1", "empty element", id="seq-double-comma"),
    pytest.param(b"a1 FETCH $ FLAGS", "a1", "saved search", id="seq-dollar"),
    pytest.param(b"a1 FETCH abc FLAGS", "a1", "sequence set", id="seq-letters"),
    pytest.param(b"a1 FETCH 1:99999999999 FLAGS", "a1", "too large", id="seq-huge"),
    pytest.param(b"a1 UID EXPUNGE", "a1", "expected a space", id="uid-expunge-no-set"),
    pytest.param(b"a1 EXPUNGE 1:2", "a1", "unexpected", id="expunge-with-set"),
    # STORE, COPY, MOVE
    pytest.param(b"a1 STORE 1 FLAGS", "a1", "expected a space", id="store-no-flags"),
    pytest.param(b"a1 STORE 1 LABELS (x)", "a1", "FLAGS", id="store-bad-item"),
    pytest.param(b"a1 STORE 1 +FLAGS (\\Recent)", "a1", "cannot be set", id="recent"),
    pytest.param(b"a1 STORE 1 +FLAGS (\\Bogus)", "a1", "cannot be set", id="bad-sys"),
    pytest.param(b"a1 STORE 1 FLAGS ((\\Seen))", "a1", "a flag", id="nested-flags"),
    pytest.param(b"a1 STORE 1 FLAGS (\\Seen))", "a1", "unbalanced", id="extra-paren"),
    pytest.param(b"a1 COPY 1", "a1", "expected a space", id="copy-no-mailbox"),
    pytest.param(b"a1 MOVE Trash", "a1", "sequence set", id="move-no-set"),
    # ID, ENABLE, AUTHENTICATE
    pytest.param(b"a1 ID", "a1", "expected a space", id="id-no-argument"),
    pytest.param(b'a1 ID ("name")', "a1", "unbalanced", id="id-odd-list"),
    pytest.param(b'a1 ID ("name" "x"', "a1", "unbalanced", id="id-unclosed"),
    pytest.param(b"a1 ID (name x)", "a1", "ID field name", id="id-atoms"),
    pytest.param(b"a1 ENABLE", "a1", "at least one", id="enable-empty"),
    pytest.param(b"a1 AUTHENTICATE", "a1", "expected a space", id="auth-no-mech"),
    pytest.param(b"a1 AUTHENTICATE PLAIN abc", "a1", "base64", id="auth-bad-ir"),
]


@pytest.mark.parametrize(("line", "tag", "reason"), MALFORMED)
def test_malformed(line: bytes, tag: str | None, reason: str) -> None:
    error = parse_error(line)
    assert error.tag == tag
    assert error.status == "BAD"
    assert reason in error.message


def test_id_limits_field_count() -> None:
    pairs = b" ".join(b'"f%d" "v"' % number for number in range(31))
    assert "30 ID fields" in parse_error(b"a1 ID (" + pairs + b")").message


def test_error_text_never_carries_control_bytes() -> None:
    error = parse_error(b"a1 \x1b[31mEVIL")
    assert b"\x1b" not in error.response()
    assert error.response().endswith(b"\r\n")
    assert error.response().count(b"\r\n") == 1
