"""The IMAP server's first layer: bytes in, typed commands out.

`CommandReader` frames the client's stream and yields typed commands from
`protocols.imap.commands`; `protocols.imap.wire` encodes the replies.
"""

from protocols.imap.commands import Command, StoreAction
from protocols.imap.fetchatts import BodySection, FetchAttribute, Partial
from protocols.imap.lexer import ParseError
from protocols.imap.parser import parse_command
from protocols.imap.reader import (
    AuthenticateResponse,
    CommandReader,
    IdleDone,
    NeedContinuation,
    ReaderEvent,
    ReaderLimits,
)
from protocols.imap.sequence import SequenceSet, SequenceSetError
from protocols.imap.utf7 import (
    ModifiedUTF7Error,
    decode_modified_utf7,
    encode_modified_utf7,
)

__all__ = [
    "AuthenticateResponse",
    "BodySection",
    "Command",
    "CommandReader",
    "FetchAttribute",
    "IdleDone",
    "ModifiedUTF7Error",
    "NeedContinuation",
    "ParseError",
    "Partial",
    "ReaderEvent",
    "ReaderLimits",
    "SequenceSet",
    "SequenceSetError",
    "StoreAction",
    "decode_modified_utf7",
    "encode_modified_utf7",
    "parse_command",
]
