"""Random input never makes the reader raise anything but its own events."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.imap import (
    AuthenticateResponse,
    CommandReader,
    IdleDone,
    NeedContinuation,
    ParseError,
    ReaderLimits,
)
from protocols.imap.commands import Command
from protocols.imap.reader import ReaderEvent

EVENT_TYPES = (Command, NeedContinuation, IdleDone, AuthenticateResponse, ParseError)
LIMITS = ReaderLimits(
    max_line_length=200,
    max_append_size=500,
    max_literal_size=100,
    max_command_size=1000,
)

# Fragments of real syntax, so that random input reaches deep into the parser.
TOKENS = [
    b"a1 ",
    b"UID ",
    b"FETCH ",
    b"SEARCH ",
    b"STORE ",
    b"APPEND ",
    b"LIST ",
    b"LOGIN ",
    b"SELECT ",
    b"STATUS ",
    b"ID ",
    b"COPY ",
    b"MOVE ",
    b"IDLE",
    b"AUTHENTICATE ",
    b"ENABLE ",
    b"CREATE ",
    b"EXPUNGE",
    b"NOOP",
    b"1:*",
    b"*",
    b"1,3:5",
    b"0",
    b"(",
    b")",
    b"[",
    b"]",
    b"<0.10>",
    b" ",
    b"BODY.PEEK[",
    b"HEADER.FIELDS (",
    b"1.2.MIME",
    b"TEXT",
    b"FLAGS",
    b"+FLAGS.SILENT ",
    b"\\Seen",
    b"\\Recent",
    b"NOT ",
    b"OR ",
    b"SINCE ",
    b"1-Feb-2024",
    b'"05-Mar-2024 09:15:00 -0800"',
    b"RETURN (",
    b"CHARSET ",
    b"INBOX",
    b"&APw-",
    b"&",
    b'"',
    b"\\",
    b"{3}\r\n",
    b"{5+}\r\n",
    b"{0}\r\n",
    b"{999999}\r\n",
    b"~{2}\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"\x00",
    b"\xff",
    b"NIL",
    b"DONE\r\n",
    b"=",
    b"AGFsaWNl",
    b"CHANGEDSINCE ",
    b"MODSEQ ",
]


def drain(reader: CommandReader, expectation: int) -> None:
    for event in reader.events():
        assert isinstance(event, EVENT_TYPES)
        assert not isinstance(event, ParseError) or event.response().endswith(b"\r\n")

        # Play the connection's part now and then, as a real one would.
        if isinstance(event, Command) and expectation % 3 == 0:
            if event.name == "IDLE":
                reader.expect_idle_done(event.tag)
            elif event.name == "AUTHENTICATE":
                reader.expect_authenticate_response(event.tag)


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.binary(max_size=600), chunk=st.integers(min_value=1, max_value=64))
def test_random_bytes(data: bytes, chunk: int) -> None:
    reader = CommandReader(LIMITS)
    for start in range(0, len(data), chunk):
        reader.feed(data[start : start + chunk])
        drain(reader, start)


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    pieces=st.lists(st.sampled_from(TOKENS) | st.binary(max_size=4), max_size=40),
    chunk=st.integers(min_value=1, max_value=32),
)
def test_random_token_soup(pieces: list[bytes], chunk: int) -> None:
    data = b"".join(pieces) + b"\r\n"
    reader = CommandReader(LIMITS)
    for start in range(0, len(data), chunk):
        reader.feed(data[start : start + chunk])
        drain(reader, start)


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.binary(max_size=300))
def test_split_does_not_change_the_outcome(data: bytes) -> None:
    whole = CommandReader(LIMITS)
    whole.feed(data)
    expected = list(whole.events())

    bytewise = CommandReader(LIMITS)
    events: list[ReaderEvent] = []
    for index in range(len(data)):
        bytewise.feed(data[index : index + 1])
        events.extend(bytewise.events())
    assert events == expected
