"""Typed IMAP commands, as the parser hands them to the connection.

Every command carries the client's `tag`. Its class attribute `name` is the
command word ("FETCH"); commands that have a UID form carry `uid`, so that
"UID FETCH" is a `FetchCommand` with ``uid=True``. Mailbox names are already
decoded from modified UTF-7, and "INBOX" in any case is "INBOX".

Secrets (LOGIN password, AUTHENTICATE data) and message bytes are left out
of each command's repr, so logging a command never leaks them.
"""

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from protocols.imap.fetchatts import FetchAttribute
from protocols.imap.searchkeys import SearchKey
from protocols.imap.sequence import SequenceSet

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Base of every command."""

    name: ClassVar[str] = ""

    tag: str


# -- any state -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CapabilityCommand(Command):
    name: ClassVar[str] = "CAPABILITY"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoopCommand(Command):
    name: ClassVar[str] = "NOOP"


@dataclass(frozen=True, slots=True, kw_only=True)
class LogoutCommand(Command):
    name: ClassVar[str] = "LOGOUT"


@dataclass(frozen=True, slots=True, kw_only=True)
class IdCommand(Command):
    """ID (RFC 2971); `parameters` is None for ``ID NIL``.

    Field names are lower-cased, as they are not case-sensitive.
    """

    name: ClassVar[str] = "ID"

    parameters: Mapping[str, str | None] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnableCommand(Command):
    """ENABLE (RFC 5161); capability names upper-cased."""

    name: ClassVar[str] = "ENABLE"

    capabilities: tuple[str, ...]


# -- not authenticated ---------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StartTlsCommand(Command):
    name: ClassVar[str] = "STARTTLS"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticateCommand(Command):
    """AUTHENTICATE; `initial_response` is the decoded SASL-IR, if sent.

    An initial response of "=" (empty) decodes to b"".
    """

    name: ClassVar[str] = "AUTHENTICATE"

    mechanism: str
    initial_response: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginCommand(Command):
    name: ClassVar[str] = "LOGIN"

    username: str
    password: str = field(repr=False)


# -- authenticated -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectCommand(Command):
    """SELECT; `condstore` is set by the (CONDSTORE) parameter."""

    name: ClassVar[str] = "SELECT"
    read_only: ClassVar[bool] = False

    mailbox: str
    condstore: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ExamineCommand(SelectCommand):
    name: ClassVar[str] = "EXAMINE"
    read_only: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateCommand(Command):
    """CREATE; `special_use` from ``(USE (\\Sent))`` (RFC 6154)."""

    name: ClassVar[str] = "CREATE"

    mailbox: str
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteCommand(Command):
    name: ClassVar[str] = "DELETE"

    mailbox: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RenameCommand(Command):
    name: ClassVar[str] = "RENAME"

    mailbox: str
    new_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeCommand(Command):
    name: ClassVar[str] = "SUBSCRIBE"

    mailbox: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubscribeCommand(Command):
    name: ClassVar[str] = "UNSUBSCRIBE"

    mailbox: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListCommand(Command):
    """LIST, plain (RFC 3501) or extended (RFC 5258, 6154, 5819).

    `selection` holds the selection options (SUBSCRIBED, REMOTE,
    RECURSIVEMATCH, SPECIAL-USE) and `return_options` the return options
    (SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS). With STATUS,
    `status_items` lists what to report. `extended` tells whether the
    client used any extended syntax, which changes what the reply may hold.
    """

    name: ClassVar[str] = "LIST"

    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[str] = frozenset()
    return_options: frozenset[str] = frozenset()
    status_items: tuple[str, ...] = ()
    extended: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LsubCommand(Command):
    name: ClassVar[str] = "LSUB"

    reference: str
    pattern: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusCommand(Command):
    """STATUS; `items` upper-cased, in the client's order."""

    name: ClassVar[str] = "STATUS"

    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendCommand(Command):
    """APPEND of one message; `message` holds its bytes as sent."""

    name: ClassVar[str] = "APPEND"

    mailbox: str
    flags: tuple[str, ...] = ()
    internal_date: datetime | None = None
    message: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class NamespaceCommand(Command):
    name: ClassVar[str] = "NAMESPACE"


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleCommand(Command):
    """IDLE (RFC 2177); after accepting it, call `expect_idle_done`."""

    name: ClassVar[str] = "IDLE"


# -- selected ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckCommand(Command):
    name: ClassVar[str] = "CHECK"


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseCommand(Command):
    name: ClassVar[str] = "CLOSE"


@dataclass(frozen=True, slots=True, kw_only=True)
class UnselectCommand(Command):
    name: ClassVar[str] = "UNSELECT"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpungeCommand(Command):
    """EXPUNGE, or UID EXPUNGE (RFC 4315) limited to `sequence_set`."""

    name: ClassVar[str] = "EXPUNGE"

    uid: bool = False
    sequence_set: SequenceSet | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchCommand(Command):
    """SEARCH; strings in `criteria` are already decoded from `charset`.

    `return_options` is None for a plain SEARCH, else the ESEARCH options
    (RFC 4731) upper-cased; ``RETURN ()`` means ("ALL",).
    """

    name: ClassVar[str] = "SEARCH"

    uid: bool = False
    charset: str | None = None
    criteria: SearchKey
    return_options: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchCommand(Command):
    """FETCH; macros are expanded. A UID FETCH reply must include UID."""

    name: ClassVar[str] = "FETCH"

    uid: bool = False
    sequence_set: SequenceSet
    attributes: tuple[FetchAttribute, ...]
    changed_since: int | None = None


class StoreAction(enum.Enum):
    REPLACE = "FLAGS"
    ADD = "+FLAGS"
    REMOVE = "-FLAGS"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreCommand(Command):
    """STORE; system flags are spelled canonically (``\\Seen``)."""

    name: ClassVar[str] = "STORE"

    uid: bool = False
    sequence_set: SequenceSet
    action: StoreAction
    silent: bool = False
    flags: tuple[str, ...]
    unchanged_since: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyCommand(Command):
    name: ClassVar[str] = "COPY"

    uid: bool = False
    sequence_set: SequenceSet
    mailbox: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveCommand(Command):
    """MOVE (RFC 6851)."""

    name: ClassVar[str] = "MOVE"

    uid: bool = False
    sequence_set: SequenceSet
    mailbox: str
