"""Shortcuts for feeding bytes to a CommandReader in the parser tests."""

from protocols.imap import CommandReader, NeedContinuation, ParseError, ReaderLimits
from protocols.imap.reader import ReaderEvent


def read_events(
    data: bytes, *, limits: ReaderLimits | None = None, chunk: int | None = None
) -> list[ReaderEvent]:
    """Feed `data` (in chunks of `chunk` bytes, if given) and collect events."""
    reader = CommandReader(limits)
    events: list[ReaderEvent] = []
    step = chunk or max(len(data), 1)
    for start in range(0, len(data), step):
        reader.feed(data[start : start + step])
        events.extend(reader.events())
    return events


def parse(line: bytes) -> ReaderEvent:
    """Return the one command (or error) that `line` holds.

    CRLF is added when missing; continuation requests are dropped.
    """
    if not line.endswith(b"\n"):
        line += b"\r\n"
    events = [e for e in read_events(line) if not isinstance(e, NeedContinuation)]
    assert len(events) == 1, events
    return events[0]


def parse_error(line: bytes) -> ParseError:
    result = parse(line)
    assert isinstance(result, ParseError), result
    return result
