"""SEARCH evaluation (RFC 3501 §6.4.4) over the index.

Flags, sizes and dates come from the index rows; header and body keys read
the decoded SEARCH fields sealed at sync time (subject, addresses, every
header line, the text of text/* parts). Nothing is decrypted with OpenPGP
and nothing asks the provider. Strings match as case-insensitive
substrings, as RFC 3501 asks.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

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
from protocols.imap.store import SearchRow

logger = logging.getLogger(__name__)

# Header keys answered from the decoded address and subject fields.
_DECODED_FIELDS = {
    "from": "from_text",
    "to": "to_text",
    "cc": "cc_text",
    "bcc": "bcc_text",
    "subject": "subject",
}


class SearchRefused(Exception):
    """A key this server cannot evaluate (the reply is BAD or NO)."""


@dataclass(frozen=True, slots=True)
class SearchContext:
    """What keys need besides the row: numbering and the session's state."""

    sequence_of: dict[int, int]
    max_sequence: int
    max_uid: int
    recent: frozenset[int]


def needs_text(key: SearchKey) -> bool:
    """True when evaluating `key` needs the sealed SEARCH fields."""
    if isinstance(key, HeaderKey | BodyKey | TextKey):
        return True
    if isinstance(key, DateKey):
        return key.sent
    if isinstance(key, NotKey):
        return needs_text(key.key)
    if isinstance(key, OrKey):
        return needs_text(key.left) or needs_text(key.right)
    if isinstance(key, AndKey):
        return any(needs_text(inner) for inner in key.keys)
    return False


def check_supported(key: SearchKey) -> None:
    """Raise :class:`SearchRefused` for keys that need a missing extension."""
    if isinstance(key, ModSeqKey):
        raise SearchRefused("MODSEQ needs CONDSTORE, which is not enabled")
    for inner in _children(key):
        check_supported(inner)


def _children(key: SearchKey) -> Iterable[SearchKey]:
    if isinstance(key, NotKey):
        return (key.key,)
    if isinstance(key, OrKey):
        return (key.left, key.right)
    if isinstance(key, AndKey):
        return key.keys
    return ()


def search(
    key: SearchKey, rows: Sequence[SearchRow], context: SearchContext
) -> list[SearchRow]:
    """The rows matching `key`, in the order given."""
    return [row for row in rows if matches(key, row, context)]


def matches(key: SearchKey, row: SearchRow, context: SearchContext) -> bool:
    if isinstance(key, AllKey):
        return True
    if isinstance(key, AndKey):
        return all(matches(inner, row, context) for inner in key.keys)
    if isinstance(key, OrKey):
        return matches(key.left, row, context) or matches(key.right, row, context)
    if isinstance(key, NotKey):
        return not matches(key.key, row, context)
    if isinstance(key, FlagKey):
        return _has_flag(row, key.flag, context) == key.present
    if isinstance(key, SequenceKey):
        return _in_sequence(key, row, context)
    if isinstance(key, SizeKey):
        if key.comparison == "larger":
            return row.size > key.size
        return row.size < key.size
    if isinstance(key, DateKey):
        return _date_matches(key, row)
    if isinstance(key, HeaderKey):
        return _header_matches(row.text or {}, key.field, key.value)
    if isinstance(key, BodyKey):
        return _contains((row.text or {}).get("search_text"), key.value)
    if isinstance(key, TextKey):
        text = row.text or {}
        return _contains(text.get("header_text"), key.value) or _contains(
            text.get("search_text"), key.value
        )
    raise SearchRefused(f"unsupported search key {type(key).__name__}")


def _has_flag(row: SearchRow, flag: str, context: SearchContext) -> bool:
    if flag == "\\Recent":
        return row.uid in context.recent
    if flag.startswith("\\"):
        return flag in row.flags
    # Keywords compare without regard to case, as servers commonly do.
    wanted = flag.casefold()
    return any(present.casefold() == wanted for present in row.flags)


def _in_sequence(key: SequenceKey, row: SearchRow, context: SearchContext) -> bool:
    if key.uid:
        return key.sequence_set.contains(row.uid, context.max_uid)
    sequence = context.sequence_of.get(row.uid)
    if sequence is None:
        return False
    return key.sequence_set.contains(sequence, context.max_sequence)


def _date_matches(key: DateKey, row: SearchRow) -> bool:
    day = _sent_day(row) if key.sent else _day(row.internal_date)
    if day is None:
        return False
    if key.comparison == "before":
        return day < key.value
    if key.comparison == "on":
        return day == key.value
    return day >= key.value


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None


def _sent_day(row: SearchRow) -> date | None:
    # The Date header's own calendar day, in its own time zone; messages
    # without a usable Date header fall back to the internal date.
    stored = (row.text or {}).get("date")
    if stored:
        try:
            return datetime.fromisoformat(stored).date()
        except ValueError:
            logger.debug("unreadable sent date in search fields")
    if row.sent_date is not None:
        return row.sent_date.date()
    return _day(row.internal_date)


def _contains(haystack: Any, needle: str) -> bool:
    if not needle:
        return True
    if not haystack:
        return False
    return needle.casefold() in str(haystack).casefold()


def _header_matches(text: dict[str, Any], field: str, value: str) -> bool:
    name = field.casefold()
    decoded = _DECODED_FIELDS.get(name)
    lines = _header_values(text.get("header_text") or "", name)

    if not value:
        return bool(lines)
    if decoded is not None and _contains(text.get(decoded), value):
        return True
    return any(_contains(line, value) for line in lines)


def _header_values(header_text: str, name: str) -> list[str]:
    prefix = name + ":"
    return [
        line[len(prefix) :]
        for line in header_text.split("\n")
        if line.casefold().startswith(prefix)
    ]
