"""Turn one complete IMAP command into a typed command (no I/O).

`parse_command` takes the segments that `CommandReader` collected: line
texts alternating with literal payloads. Each command word has one small
function that reads its arguments.
"""

import base64
import binascii
import logging
import re
from collections.abc import Callable, Sequence

from protocols.imap import commands as c
from protocols.imap.fetchatts import parse_fetch_attributes
from protocols.imap.lexer import MAX_NUMBER64, TAG, Cursor, ParseError, printable
from protocols.imap.searchkeys import parse_search_criteria

logger = logging.getLogger(__name__)

SYSTEM_FLAGS = {
    flag.upper(): flag
    for flag in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
}
STATUS_ITEMS = frozenset(
    {
        "MESSAGES",
        "RECENT",
        "UIDNEXT",
        "UIDVALIDITY",
        "UNSEEN",
        "SIZE",
        "DELETED",
        "HIGHESTMODSEQ",
        "APPENDLIMIT",
    }
)
LIST_SELECTION_OPTIONS = frozenset(
    {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"}
)
LIST_RETURN_OPTIONS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"})
SPECIAL_USES = frozenset(
    {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"}
)
ESEARCH_RETURN_OPTIONS = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE"})

# RFC 2971 limits.
MAX_ID_PAIRS = 30
MAX_ID_FIELD_LENGTH = 30
MAX_ID_VALUE_LENGTH = 1024

_COMMAND_WORD = re.compile(rb"[A-Za-z]+")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_INITIAL_RESPONSE = re.compile(rb"[A-Za-z0-9+/=]+")

Parser = Callable[[Cursor, str], c.Command]
UidParser = Callable[[Cursor, str, bool], c.Command]


def parse_command(
    segments: Sequence[bytes], *, utf8_mailboxes: bool = False
) -> c.Command:
    """Return the typed command; raise `ParseError` if it is not valid.

    With `utf8_mailboxes` (after ENABLE UTF8=ACCEPT) mailbox names are taken
    as UTF-8 instead of modified UTF-7.
    """
    cursor = Cursor(segments, utf8_mailboxes=utf8_mailboxes)
    tag_bytes = cursor.match(TAG)
    if tag_bytes is None:
        raise ParseError(None, "missing or invalid tag")
    tag = tag_bytes.decode("ascii")
    cursor.tag = tag

    if cursor.at_end():
        raise cursor.error("missing command")
    cursor.sp()

    word = cursor.match(_COMMAND_WORD)
    if word is None:
        raise cursor.fail_expected("a command")
    name = word.decode("ascii").upper()

    if name == "UID":
        cursor.sp()
        word = cursor.match(_COMMAND_WORD)
        sub_name = word.decode("ascii").upper() if word else ""
        uid_parser = _UID_PARSERS.get(sub_name)
        if uid_parser is None:
            raise cursor.error(f"UID cannot be followed by {sub_name[:20] or '?'}")
        return uid_parser(cursor, tag, True)

    if name in _UID_PARSERS:
        return _UID_PARSERS[name](cursor, tag, False)

    parser = _PARSERS.get(name)
    if parser is None:
        raise cursor.error(f"unknown command {printable(word, 20)}")
    return parser(cursor, tag)


# -- helpers -------------------------------------------------------------------


def _no_arguments(command: type[c.Command]) -> Parser:
    def parse(cursor: Cursor, tag: str) -> c.Command:
        cursor.end()
        return command(tag=tag)

    return parse


def _flag(cursor: Cursor) -> str:
    """Read a flag for STORE or APPEND (no \\Recent, no unknown \\ flags)."""
    if cursor.accept(b"\\"):
        name = "\\" + cursor.atom("a flag name")
        canonical = SYSTEM_FLAGS.get(name.upper())
        if canonical is None:
            raise cursor.error(f"{printable(name.encode(), 30)} cannot be set")
        return canonical
    return cursor.atom("a flag")


def _flag_list(cursor: Cursor) -> tuple[str, ...]:
    cursor.begin_list("a flag list")
    if cursor.accept(b")"):
        return ()

    flags = [_flag(cursor)]
    while not cursor.end_of_list():
        flags.append(_flag(cursor))
    return tuple(dict.fromkeys(flags))


def _keyword_list(cursor: Cursor, what: str) -> list[str]:
    """Read "(" [atom *(SP atom)] ")" as upper-case words."""
    cursor.begin_list(what)
    if cursor.accept(b")"):
        return []

    words = [cursor.keyword()]
    while not cursor.end_of_list():
        words.append(cursor.keyword())
    return words


def _status_items(cursor: Cursor) -> tuple[str, ...]:
    items = _keyword_list(cursor, "a list of status items")
    if not items:
        raise cursor.error("empty status item list")

    for item in items:
        if item not in STATUS_ITEMS:
            raise cursor.error(f"unknown status item {item[:30]}")
    return tuple(dict.fromkeys(items))


# -- any state -----------------------------------------------------------------


def _parse_id(cursor: Cursor, tag: str) -> c.Command:
    cursor.sp()
    if cursor.accept_nil():
        cursor.end()
        return c.IdCommand(tag=tag, parameters=None)

    cursor.begin_list("a list of ID fields")
    parameters: dict[str, str | None] = {}
    while not cursor.accept(b")"):
        if parameters:
            cursor.sp()

        field = cursor.text(cursor.string("an ID field name"), "ID field")
        cursor.sp()
        raw_value = cursor.nstring("an ID value or NIL")
        value = None if raw_value is None else cursor.text(raw_value, "ID value")

        if len(field.encode()) > MAX_ID_FIELD_LENGTH:
            raise cursor.error("ID field name longer than 30 octets")
        if value is not None and len(value.encode()) > MAX_ID_VALUE_LENGTH:
            raise cursor.error("ID value longer than 1024 octets")
        parameters[field.lower()] = value
        if len(parameters) > MAX_ID_PAIRS:
            raise cursor.error("more than 30 ID fields")

        if cursor.peek() is None:
            raise cursor.error("unbalanced parentheses: missing ')'")

    cursor.end()
    return c.IdCommand(tag=tag, parameters=parameters)


def _parse_enable(cursor: Cursor, tag: str) -> c.Command:
    capabilities = []
    while not cursor.at_end():
        cursor.sp()
        capabilities.append(cursor.keyword("a capability name"))

    if not capabilities:
        raise cursor.error("ENABLE needs at least one capability")
    return c.EnableCommand(tag=tag, capabilities=tuple(capabilities))


# -- not authenticated ---------------------------------------------------------


def _sasl_data(cursor: Cursor, raw: bytes) -> bytes:
    if raw == b"=":
        return b""
    if _BASE64.fullmatch(raw) is None or len(raw) % 4:
        raise cursor.error("invalid base64 in SASL data")
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error as error:
        raise cursor.error("invalid base64 in SASL data") from error


def decode_sasl_response(tag: str | None, line: bytes) -> bytes:
    """Decode one base64 line of an AUTHENTICATE exchange."""
    cursor = Cursor([line], tag=tag)
    if not line:
        return b""
    return _sasl_data(cursor, line)


def _parse_authenticate(cursor: Cursor, tag: str) -> c.Command:
    cursor.sp()
    mechanism = cursor.keyword("a SASL mechanism")

    initial_response = None
    if not cursor.at_end():
        cursor.sp()
        token = cursor.match(_INITIAL_RESPONSE)
        if token is None:
            raise cursor.fail_expected("a base64 initial response")
        initial_response = _sasl_data(cursor, token)

    cursor.end()
    return c.AuthenticateCommand(
        tag=tag, mechanism=mechanism, initial_response=initial_response
    )


def _parse_login(cursor: Cursor, tag: str) -> c.Command:
    cursor.sp()
    username = cursor.text(cursor.astring("a user name"), "user name")
    cursor.sp()
    password = cursor.text(cursor.astring("a password"), "password")
    cursor.end()
    return c.LoginCommand(tag=tag, username=username, password=password)


# -- authenticated -------------------------------------------------------------


def _select_like(command: type[c.SelectCommand]) -> Parser:
    def parse(cursor: Cursor, tag: str) -> c.Command:
        cursor.sp()
        mailbox = cursor.mailbox()

        condstore = False
        if not cursor.at_end():
            cursor.sp()
            for parameter in _keyword_list(cursor, "SELECT parameters"):
                if parameter != "CONDSTORE":
                    raise cursor.error(f"unsupported SELECT parameter {parameter[:30]}")
                condstore = True

        cursor.end()
        return command(tag=tag, mailbox=mailbox, condstore=condstore)

    return parse


def _one_mailbox(
    command: type[c.DeleteCommand]
    | type[c.SubscribeCommand]
    | type[c.UnsubscribeCommand],
) -> Parser:
    def parse(cursor: Cursor, tag: str) -> c.Command:
        cursor.sp()
        mailbox = cursor.mailbox()
        cursor.end()
        return command(tag=tag, mailbox=mailbox)

    return parse


def _parse_create(cursor: Cursor, tag: str) -> c.Command:
    cursor.sp()
    mailbox = cursor.mailbox()

    special_use: list[str] = []
    if not cursor.at_end():
        cursor.sp()
        cursor.begin_list("CREATE parameters")
        cursor.expect(b"USE", "USE")
        cursor.sp()
        cursor.begin_list("a list of special uses")
        while True:
            cursor.expect(b"\\", "a special-use flag")
            flag = "\\" + cursor.atom("a special-use flag").capitalize()
            if flag not in SPECIAL_USES:
                raise cursor.error(f"unknown special use {flag[:30]}")
            special_use.append(flag)
            if cursor.end_of_list():
                break
        cursor.expect(b")", "')' after the USE list")

    cursor.end()
    return c.CreateCommand(tag=tag, mailbox=mailbox, special_use=tuple(special_use))


def _parse_rename(cursor: Cursor, tag: str) -> c.Command:
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.sp()
    new_name = cursor.mailbox("a new mailbox name")
    cursor.end()
    return c.RenameCommand(tag=tag, mailbox=mailbox, new_name=new_name)


def _parse_list(cursor: Cursor, tag: str) -> c.Command:
    cursor.sp()
    extended = False

    selection: list[str] = []
    if cursor.peek() == ord("("):
        extended = True
        selection = _keyword_list(cursor, "LIST selection options")
        for option in selection:
            if option not in LIST_SELECTION_OPTIONS:
                raise cursor.error(f"unknown LIST selection option {option[:30]}")
        if selection == ["RECURSIVEMATCH"]:
            raise cursor.error("RECURSIVEMATCH needs another selection option")
        cursor.sp()

    reference = cursor.mailbox_text(cursor.astring("a reference name"), "reference")
    cursor.sp()

    if cursor.accept(b"("):
        extended = True
        patterns = [cursor.list_mailbox()]
        while not cursor.end_of_list():
            patterns.append(cursor.list_mailbox())
    else:
        patterns = [cursor.list_mailbox()]

    return_options: list[str] = []
    status_items: tuple[str, ...] = ()
    if not cursor.at_end():
        extended = True
        cursor.sp()
        cursor.expect(b"RETURN", "RETURN")
        cursor.sp()
        return_options, status_items = _list_return_options(cursor)

    cursor.end()
    return c.ListCommand(
        tag=tag,
        reference=reference,
        patterns=tuple(patterns),
        selection=frozenset(selection),
        return_options=frozenset(return_options),
        status_items=status_items,
        extended=extended,
    )


def _list_return_options(cursor: Cursor) -> tuple[list[str], tuple[str, ...]]:
    cursor.begin_list("LIST return options")
    options: list[str] = []
    status_items: tuple[str, ...] = ()
    if cursor.accept(b")"):
        return options, status_items

    while True:
        option = cursor.keyword("a LIST return option")
        if option not in LIST_RETURN_OPTIONS:
            raise cursor.error(f"unknown LIST return option {option[:30]}")
        if option == "STATUS":
            cursor.sp()
            status_items = _status_items(cursor)
        options.append(option)
        if cursor.end_of_list():
            return options, status_items


def _parse_lsub(cursor: Cursor, tag: str) -> c.Command:
    cursor.sp()
    reference = cursor.mailbox_text(cursor.astring("a reference name"), "reference")
    cursor.sp()
    pattern = cursor.list_mailbox()
    cursor.end()
    return c.LsubCommand(tag=tag, reference=reference, pattern=pattern)


def _parse_status(cursor: Cursor, tag: str) -> c.Command:
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.sp()
    items = _status_items(cursor)
    cursor.end()
    return c.StatusCommand(tag=tag, mailbox=mailbox, items=items)


def _parse_append(cursor: Cursor, tag: str) -> c.Command:
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.sp()

    flags: tuple[str, ...] = ()
    if cursor.peek() == ord("("):
        flags = _flag_list(cursor)
        cursor.sp()

    internal_date = None
    if cursor.peek() == ord('"'):
        internal_date = cursor.date_time()
        cursor.sp()

    if cursor.peek() not in (ord("{"), ord("~")):
        raise cursor.fail_expected("the message as a literal")
    message = cursor.string("the message as a literal")

    if not cursor.at_end():
        raise cursor.error("only one message per APPEND is supported")
    return c.AppendCommand(
        tag=tag,
        mailbox=mailbox,
        flags=flags,
        internal_date=internal_date,
        message=message,
    )


# -- selected ------------------------------------------------------------------


def _parse_expunge(cursor: Cursor, tag: str, uid: bool) -> c.Command:
    sequence_set = None
    if uid:
        cursor.sp()
        sequence_set = cursor.sequence_set()
    cursor.end()
    return c.ExpungeCommand(tag=tag, uid=uid, sequence_set=sequence_set)


def _parse_search(cursor: Cursor, tag: str, uid: bool) -> c.Command:
    cursor.sp()

    return_options = None
    if cursor.accept(b"RETURN "):
        options = _keyword_list(cursor, "SEARCH return options")
        for option in options:
            if option not in ESEARCH_RETURN_OPTIONS:
                raise cursor.error(f"unknown SEARCH return option {option[:30]}")
        return_options = tuple(dict.fromkeys(options)) or ("ALL",)
        cursor.sp()

    charset = None
    if cursor.accept(b"CHARSET "):
        charset = cursor.text(cursor.astring("a charset name"), "charset").upper()
        cursor.sp()

    criteria = parse_search_criteria(cursor, charset)
    return c.SearchCommand(
        tag=tag,
        uid=uid,
        charset=charset,
        criteria=criteria,
        return_options=return_options,
    )


def _modifier(cursor: Cursor, name: bytes) -> int:
    """Read ``(NAME n)``, the CONDSTORE modifier of FETCH and STORE."""
    cursor.begin_list("a modifier list")
    cursor.expect(name, name.decode())
    cursor.sp()
    value = cursor.number(MAX_NUMBER64, "a mod-sequence")
    cursor.expect(b")", "')' after the modifier")
    return value


def _parse_fetch(cursor: Cursor, tag: str, uid: bool) -> c.Command:
    cursor.sp()
    sequence_set = cursor.sequence_set()
    cursor.sp()
    attributes = parse_fetch_attributes(cursor)

    changed_since = None
    if not cursor.at_end():
        cursor.sp()
        changed_since = _modifier(cursor, b"CHANGEDSINCE")

    cursor.end()
    return c.FetchCommand(
        tag=tag,
        uid=uid,
        sequence_set=sequence_set,
        attributes=attributes,
        changed_since=changed_since,
    )


def _parse_store(cursor: Cursor, tag: str, uid: bool) -> c.Command:
    cursor.sp()
    sequence_set = cursor.sequence_set()
    cursor.sp()

    unchanged_since = None
    if cursor.peek() == ord("("):
        unchanged_since = _modifier(cursor, b"UNCHANGEDSINCE")
        cursor.sp()

    if cursor.accept(b"+"):
        action = c.StoreAction.ADD
    elif cursor.accept(b"-"):
        action = c.StoreAction.REMOVE
    else:
        action = c.StoreAction.REPLACE

    item = cursor.keyword("FLAGS or FLAGS.SILENT")
    if item not in ("FLAGS", "FLAGS.SILENT"):
        raise cursor.error(f"expected FLAGS or FLAGS.SILENT, found {item[:30]}")
    cursor.sp()

    if cursor.peek() == ord("("):
        flags = _flag_list(cursor)
    else:
        collected = [_flag(cursor)]
        while not cursor.at_end():
            cursor.sp()
            collected.append(_flag(cursor))
        flags = tuple(dict.fromkeys(collected))

    cursor.end()
    return c.StoreCommand(
        tag=tag,
        uid=uid,
        sequence_set=sequence_set,
        action=action,
        silent=item == "FLAGS.SILENT",
        flags=flags,
        unchanged_since=unchanged_since,
    )


def _copy_like(command: type[c.CopyCommand] | type[c.MoveCommand]) -> UidParser:
    def parse(cursor: Cursor, tag: str, uid: bool) -> c.Command:
        cursor.sp()
        sequence_set = cursor.sequence_set()
        cursor.sp()
        mailbox = cursor.mailbox()
        cursor.end()
        return command(tag=tag, uid=uid, sequence_set=sequence_set, mailbox=mailbox)

    return parse


_PARSERS: dict[str, Parser] = {
    "CAPABILITY": _no_arguments(c.CapabilityCommand),
    "NOOP": _no_arguments(c.NoopCommand),
    "LOGOUT": _no_arguments(c.LogoutCommand),
    "ID": _parse_id,
    "ENABLE": _parse_enable,
    "STARTTLS": _no_arguments(c.StartTlsCommand),
    "AUTHENTICATE": _parse_authenticate,
    "LOGIN": _parse_login,
    "SELECT": _select_like(c.SelectCommand),
    "EXAMINE": _select_like(c.ExamineCommand),
    "CREATE": _parse_create,
    "DELETE": _one_mailbox(c.DeleteCommand),
    "RENAME": _parse_rename,
    "SUBSCRIBE": _one_mailbox(c.SubscribeCommand),
    "UNSUBSCRIBE": _one_mailbox(c.UnsubscribeCommand),
    "LIST": _parse_list,
    "LSUB": _parse_lsub,
    "STATUS": _parse_status,
    "APPEND": _parse_append,
    "NAMESPACE": _no_arguments(c.NamespaceCommand),
    "IDLE": _no_arguments(c.IdleCommand),
    "CHECK": _no_arguments(c.CheckCommand),
    "CLOSE": _no_arguments(c.CloseCommand),
    "UNSELECT": _no_arguments(c.UnselectCommand),
}

_UID_PARSERS: dict[str, UidParser] = {
    "EXPUNGE": _parse_expunge,
    "SEARCH": _parse_search,
    "FETCH": _parse_fetch,
    "STORE": _parse_store,
    "COPY": _copy_like(c.CopyCommand),
    "MOVE": _copy_like(c.MoveCommand),
}

COMMAND_NAMES = frozenset(_PARSERS) | frozenset(_UID_PARSERS) | {"UID"}
