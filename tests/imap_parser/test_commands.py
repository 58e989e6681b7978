"""Each command word parses into its typed command."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from protocols.imap import commands as c
from protocols.imap.fetchatts import FetchAttribute
from protocols.imap.searchkeys import AllKey
from protocols.imap.sequence import SequenceSet

from .helpers import parse

ONE_TO_STAR = SequenceSet.parse("1:*")

CASES = [
    pytest.param(b"a1 CAPABILITY", c.CapabilityCommand(tag="a1"), id="capability"),
    pytest.param(b"a1 capability", c.CapabilityCommand(tag="a1"), id="lower-case"),
    pytest.param(b"a1 NOOP", c.NoopCommand(tag="a1"), id="noop"),
    pytest.param(b"a1 LOGOUT", c.LogoutCommand(tag="a1"), id="logout"),
    pytest.param(b"a1 STARTTLS", c.StartTlsCommand(tag="a1"), id="starttls"),
    pytest.param(b"a1 NAMESPACE", c.NamespaceCommand(tag="a1"), id="namespace"),
    pytest.param(b"a1 IDLE", c.IdleCommand(tag="a1"), id="idle"),
    pytest.param(b"a1 CHECK", c.CheckCommand(tag="a1"), id="check"),
    pytest.param(b"a1 CLOSE", c.CloseCommand(tag="a1"), id="close"),
    pytest.param(b"a1 UNSELECT", c.UnselectCommand(tag="a1"), id="unselect"),
    pytest.param(b"A]1 NOOP", c.NoopCommand(tag="A]1"), id="tag-with-bracket"),
    pytest.param(
        b"a1 LOGIN alice secret",
        c.LoginCommand(tag="a1", username="alice", password="secret"),
        id="login-atoms",
    ),
    pytest.param(
        b'a1 LOGIN "alice@example.org" "p a\\"s\\\\s"',
        c.LoginCommand(tag="a1", username="alice@example.org", password='p a"s\\s'),
        id="login-quoted-escapes",
    ),
    pytest.param(
        b"a1 LOGIN alice {7+}\r\nse cr\xc3\xa9",
        c.LoginCommand(tag="a1", username="alice", password="se cré"),
        id="login-literal-utf8",
    ),
    pytest.param(
        b"a1 AUTHENTICATE plain",
        c.AuthenticateCommand(tag="a1", mechanism="PLAIN"),
        id="authenticate",
    ),
    pytest.param(
        b"a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==",
        c.AuthenticateCommand(
            tag="a1", mechanism="PLAIN", initial_response=b"\0alice\0secret"
        ),
        id="authenticate-sasl-ir",
    ),
    pytest.param(
        b"a1 AUTHENTICATE EXTERNAL =",
        c.AuthenticateCommand(tag="a1", mechanism="EXTERNAL", initial_response=b""),
        id="authenticate-empty-ir",
    ),
    pytest.param(
        b"a1 SELECT inbox", c.SelectCommand(tag="a1", mailbox="INBOX"), id="select"
    ),
    pytest.param(
        b'a1 SELECT "Entw&APw-rfe"',
        c.SelectCommand(tag="a1", mailbox="Entwürfe"),
        id="select-mutf7",
    ),
    pytest.param(
        b"a1 SELECT INBOX (CONDSTORE)",
        c.SelectCommand(tag="a1", mailbox="INBOX", condstore=True),
        id="select-condstore",
    ),
    pytest.param(
        b"a1 EXAMINE {5}\r\nInBoX",
        c.ExamineCommand(tag="a1", mailbox="INBOX"),
        id="examine-literal",
    ),
    pytest.param(
        b"a1 CREATE Archive/2024",
        c.CreateCommand(tag="a1", mailbox="Archive/2024"),
        id="create",
    ),
    pytest.param(
        b"a1 CREATE MySent (USE (\\Sent))",
        c.CreateCommand(tag="a1", mailbox="MySent", special_use=("\\Sent",)),
        id="create-special-use",
    ),
    pytest.param(
        b'a1 DELETE "Tom &- Jerry"',
        c.DeleteCommand(tag="a1", mailbox="Tom & Jerry"),
        id="delete",
    ),
    pytest.param(
        b"a1 RENAME Old &ZeVnLIqe-",
        c.RenameCommand(tag="a1", mailbox="Old", new_name="日本語"),
        id="rename",
    ),
    pytest.param(
        b"a1 SUBSCRIBE Lists",
        c.SubscribeCommand(tag="a1", mailbox="Lists"),
        id="subscribe",
    ),
    pytest.param(
        b"a1 UNSUBSCRIBE Lists",
        c.UnsubscribeCommand(tag="a1", mailbox="Lists"),
        id="unsubscribe",
    ),
    pytest.param(
        b'a1 LIST "" *',
        c.ListCommand(tag="a1", reference="", patterns=("*",)),
        id="list",
    ),
    pytest.param(
        b'a1 LIST "" ""',
        c.ListCommand(tag="a1", reference="", patterns=("",)),
        id="list-delimiter-query",
    ),
    pytest.param(
        b"a1 LIST Archive/ %/Entw&APw-rfe",
        c.ListCommand(tag="a1", reference="Archive/", patterns=("%/Entwürfe",)),
        id="list-wildcard-mutf7",
    ),
    pytest.param(
        b'a1 LIST "" % RETURN (SPECIAL-USE)',
        c.ListCommand(
            tag="a1",
            reference="",
            patterns=("%",),
            return_options=frozenset({"SPECIAL-USE"}),
            extended=True,
        ),
        id="list-return-special-use",
    ),
    pytest.param(
        b'a1 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Lists/%")',
        c.ListCommand(
            tag="a1",
            reference="",
            patterns=("INBOX", "Lists/%"),
            selection=frozenset({"SUBSCRIBED", "RECURSIVEMATCH"}),
            extended=True,
        ),
        id="list-extended-patterns",
    ),
    pytest.param(
        b'a1 LIST (SPECIAL-USE) "" * RETURN (CHILDREN STATUS (MESSAGES UIDNEXT))',
        c.ListCommand(
            tag="a1",
            reference="",
            patterns=("*",),
            selection=frozenset({"SPECIAL-USE"}),
            return_options=frozenset({"CHILDREN", "STATUS"}),
            status_items=("MESSAGES", "UIDNEXT"),
            extended=True,
        ),
        id="list-status",
    ),
    pytest.param(
        b'a1 LSUB "" *',
        c.LsubCommand(tag="a1", reference="", pattern="*"),
        id="lsub",
    ),
    pytest.param(
        b"a1 STATUS INBOX (messages UIDNEXT UIDVALIDITY UNSEEN RECENT)",
        c.StatusCommand(
            tag="a1",
            mailbox="INBOX",
            items=("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "RECENT"),
        ),
        id="status",
    ),
    pytest.param(
        b"a1 APPEND Drafts {5}\r\nhello",
        c.AppendCommand(tag="a1", mailbox="Drafts", message=b"hello"),
        id="append",
    ),
    pytest.param(
        b'a1 APPEND INBOX (\\Seen \\draft $Label1) "05-Mar-2024 09:15:00 -0800"'
        b" {4+}\r\nabcd",
        c.AppendCommand(
            tag="a1",
            mailbox="INBOX",
            flags=("\\Seen", "\\Draft", "$Label1"),
            internal_date=datetime(
                2024, 3, 5, 9, 15, tzinfo=timezone(timedelta(hours=-8))
            ),
            message=b"abcd",
        ),
        id="append-flags-date",
    ),
    pytest.param(
        b'a1 APPEND INBOX () " 5-Mar-2024 09:15:00 +0000" {0}\r\n\r\n',
        c.AppendCommand(
            tag="a1",
            mailbox="INBOX",
            internal_date=datetime(2024, 3, 5, 9, 15, tzinfo=UTC),
            message=b"",
        ),
        id="append-empty-flags-space-day",
    ),
    pytest.param(
        b"a1 APPEND {6}\r\nSent 1 {4}\r\nx\r\ny",
        c.AppendCommand(tag="a1", mailbox="Sent 1", message=b"x\r\ny"),
        id="append-mailbox-literal",
    ),
    pytest.param(b"a1 EXPUNGE", c.ExpungeCommand(tag="a1"), id="expunge"),
    pytest.param(
        b"a1 UID EXPUNGE 3:5,9",
        c.ExpungeCommand(tag="a1", uid=True, sequence_set=SequenceSet.parse("3:5,9")),
        id="uid-expunge",
    ),
    pytest.param(
        b"a1 SEARCH ALL",
        c.SearchCommand(tag="a1", criteria=AllKey()),
        id="search",
    ),
    pytest.param(
        b"a1 UID SEARCH CHARSET utf-8 ALL",
        c.SearchCommand(tag="a1", uid=True, charset="UTF-8", criteria=AllKey()),
        id="uid-search-charset",
    ),
    pytest.param(
        b"a1 SEARCH RETURN (MIN COUNT) ALL",
        c.SearchCommand(tag="a1", criteria=AllKey(), return_options=("MIN", "COUNT")),
        id="esearch",
    ),
    pytest.param(
        b"a1 SEARCH RETURN () ALL",
        c.SearchCommand(tag="a1", criteria=AllKey(), return_options=("ALL",)),
        id="esearch-default",
    ),
    pytest.param(
        b"a1 FETCH 1:* FLAGS",
        c.FetchCommand(
            tag="a1",
            sequence_set=ONE_TO_STAR,
            attributes=(FetchAttribute("FLAGS"),),
        ),
        id="fetch",
    ),
    pytest.param(
        b"a1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)",
        c.FetchCommand(
            tag="a1",
            uid=True,
            sequence_set=ONE_TO_STAR,
            attributes=(FetchAttribute("FLAGS"),),
            changed_since=12345,
        ),
        id="uid-fetch-changedsince",
    ),
    pytest.param(
        b"a1 STORE 1 FLAGS (\\Seen)",
        c.StoreCommand(
            tag="a1",
            sequence_set=SequenceSet.parse("1"),
            action=c.StoreAction.REPLACE,
            flags=("\\Seen",),
        ),
        id="store-replace",
    ),
    pytest.param(
        b"a1 UID STORE 2:4 -FLAGS.SILENT \\Deleted Junk",
        c.StoreCommand(
            tag="a1",
            uid=True,
            sequence_set=SequenceSet.parse("2:4"),
            action=c.StoreAction.REMOVE,
            silent=True,
            flags=("\\Deleted", "Junk"),
        ),
        id="uid-store-remove-unparenthesised",
    ),
    pytest.param(
        b"a1 STORE 1 (UNCHANGEDSINCE 7) +FLAGS ()",
        c.StoreCommand(
            tag="a1",
            sequence_set=SequenceSet.parse("1"),
            action=c.StoreAction.ADD,
            flags=(),
            unchanged_since=7,
        ),
        id="store-unchangedsince-empty",
    ),
    pytest.param(
        b"a1 COPY 1:3 Trash",
        c.CopyCommand(tag="a1", sequence_set=SequenceSet.parse("1:3"), mailbox="Trash"),
        id="copy",
    ),
    pytest.param(
        b'a1 UID COPY 7 "Gel&APY-scht"',
        c.CopyCommand(
            tag="a1", uid=True, sequence_set=SequenceSet.parse("7"), mailbox="Gelöscht"
        ),
        id="uid-copy",
    ),
    pytest.param(
        b"a1 MOVE * Archive",
        c.MoveCommand(tag="a1", sequence_set=SequenceSet.parse("*"), mailbox="Archive"),
        id="move",
    ),
    pytest.param(
        b"a1 uid move 4:2 inbox",
        c.MoveCommand(
            tag="a1", uid=True, sequence_set=SequenceSet.parse("4:2"), mailbox="INBOX"
        ),
        id="uid-move-lower-case",
    ),
    pytest.param(b"a1 ID NIL", c.IdCommand(tag="a1", parameters=None), id="id-nil"),
    pytest.param(
        b'a1 ID ("name" "Thunderbird" "Version" "115.0" "os" NIL)',
        c.IdCommand(
            tag="a1",
            parameters={"name": "Thunderbird", "version": "115.0", "os": None},
        ),
        id="id-list",
    ),
    pytest.param(
        b"a1 ENABLE CONDSTORE utf8=accept",
        c.EnableCommand(tag="a1", capabilities=("CONDSTORE", "UTF8=ACCEPT")),
        id="enable",
    ),
]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_command(line: bytes, expected: c.Command) -> None:
    assert parse(line) == expected


def test_login_repr_hides_password() -> None:
    command = parse(b"a1 LOGIN alice hunter2")
    assert "hunter2" not in repr(command)


def test_authenticate_repr_hides_initial_response() -> None:
    command = parse(b"a1 AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjI=")
    assert "AGFsaWNl" not in repr(command) and "hunter2" not in repr(command)


def test_append_repr_hides_message() -> None:
    command = parse(b"a1 APPEND INBOX {12}\r\nprivate text")
    assert isinstance(command, c.AppendCommand)
    assert command.size == 12
    assert "private" not in repr(command)


def test_examine_is_read_only_select() -> None:
    command = parse(b"a1 EXAMINE INBOX")
    assert isinstance(command, c.SelectCommand) and command.read_only
    assert not c.SelectCommand.read_only


def test_uid_commands_keep_the_base_name() -> None:
    command = parse(b"a1 UID FETCH 1 UID")
    assert isinstance(command, c.FetchCommand)
    assert command.name == "FETCH" and command.uid
