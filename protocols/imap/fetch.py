"""FETCH responses (RFC 3501 §7.4.2) from stored rows.

ENVELOPE, BODYSTRUCTURE and BODY were serialised at sync time and are sent
as stored; body sections are sliced from the cached message bytes with the
stored part offsets (:func:`mailsync.structure.slice_section`). Nothing
here parses a message or calls the provider.
"""

import functools
import logging
from collections.abc import Iterable, Sequence

from mailsync.structure import SectionError, slice_section
from protocols.imap import wire
from protocols.imap.fetchatts import BodySection, FetchAttribute
from protocols.imap.store import FetchRow

logger = logging.getLogger(__name__)

# The order Dovecot lists system flags in; keywords follow.
_FLAG_ORDER = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


class FetchRefused(Exception):
    """An attribute this server does not serve (the reply is BAD)."""


def ordered_flags(flags: Iterable[str], *, recent: bool = False) -> list[str]:
    """System flags in a fixed order, then \\Recent, then keywords sorted."""
    present = set(flags)
    ordered = [flag for flag in _FLAG_ORDER if flag in present]
    if recent:
        ordered.append("\\Recent")
    ordered += sorted(flag for flag in present if not flag.startswith("\\"))
    return ordered


def format_flag_list(flags: Iterable[str], *, recent: bool = False) -> bytes:
    return wire.format_flags(ordered_flags(flags, recent=recent))


def columns_for(attributes: Sequence[FetchAttribute]) -> frozenset[str]:
    """Which store columns the attributes need (see ``store.FETCH_COLUMNS``)."""
    columns = set()
    for attribute in attributes:
        name = attribute.name
        if attribute.section is not None or name in (
            "RFC822",
            "RFC822.HEADER",
            "RFC822.TEXT",
        ):
            columns |= {"raw", "parts"}
        elif name == "RFC822.SIZE":
            columns.add("size")
        elif name == "INTERNALDATE":
            columns.add("internal_date")
        elif name == "ENVELOPE":
            columns.add("envelope")
        elif name == "BODYSTRUCTURE":
            columns.add("bodystructure")
        elif name == "BODY":
            columns.add("body")
        elif name == "MODSEQ":
            raise FetchRefused("MODSEQ needs CONDSTORE, which is not enabled")

    if "raw" in columns and headers_only(attributes):
        # The store's header copy carries its own offsets; decoding every
        # message's part table would cost more than opening the header.
        columns.discard("parts")
    return frozenset(columns)


_HEADER_TEXTS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT"})


def headers_only(attributes: Sequence[FetchAttribute]) -> bool:
    """True when only the top-level header of the message is read.

    Then only the separately sealed top-level header of each message is
    opened, not the whole cached message.
    """
    for attribute in attributes:
        section = attribute.section
        if section is not None:
            if section.part or section.text not in _HEADER_TEXTS:
                return False
        elif attribute.name in ("RFC822", "RFC822.TEXT"):
            return False
    return True


def sets_seen(attributes: Sequence[FetchAttribute]) -> bool:
    return any(attribute.sets_seen for attribute in attributes)


@functools.lru_cache(maxsize=256)
def section_spec(section: BodySection) -> str:
    """The section as :func:`slice_section` reads it, e.g. "1.2.MIME"."""
    pieces = [str(number) for number in section.part]
    if section.text:
        pieces.append(section.text)
    spec = ".".join(pieces)
    if section.header_fields:
        spec += " (" + " ".join(section.header_fields) + ")"
    return spec


def section_bytes(row: FetchRow, section: BodySection) -> bytes:
    raw = row.raw or b""
    try:
        return slice_section(raw, row.parts, section_spec(section))
    except SectionError:
        # The parser already refused what cannot exist; anything left is a
        # part this message does not have, which reads as empty.
        return b""


def _whole_or_part(row: FetchRow, text: str | None) -> bytes:
    return section_bytes(row, BodySection((), text))


def fetch_response(
    sequence: int,
    row: FetchRow,
    attributes: Sequence[FetchAttribute],
    *,
    uid_first: bool,
    recent: bool,
    with_flags: bool = False,
) -> bytes:
    """One ``* n FETCH (...)`` response with CRLF.

    `uid_first` adds UID in front (UID FETCH must include it); `with_flags`
    adds FLAGS when the client did not ask (\\Seen was just set).
    """
    items: list[bytes] = []
    names = {attribute.name for attribute in attributes if attribute.section is None}
    # UID leads whenever it is sent, as Dovecot writes it.
    if uid_first or "UID" in names:
        items.append(b"UID %d" % row.uid)

    for attribute in attributes:
        if attribute.section is None and attribute.name == "UID":
            continue
        items.append(_item(row, attribute, recent))

    if with_flags and "FLAGS" not in names:
        items.append(b"FLAGS " + format_flag_list(row.flags, recent=recent))

    return b"* %d FETCH (" % sequence + b" ".join(items) + b")\r\n"


@functools.lru_cache(maxsize=256)
def response_name(attribute: FetchAttribute) -> bytes:
    """``BODY[section]<origin>``, header field names upper-cased as Dovecot does."""
    section = attribute.section
    assert section is not None
    spec = ".".join([str(number) for number in section.part] + [section.text or ""])
    spec = spec.rstrip(".")
    if section.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        fields = b" ".join(
            wire.encode_astring(name.upper()) for name in section.header_fields
        )
        spec += " (" + fields.decode("ascii") + ")"

    name = f"BODY[{spec}]"
    if attribute.partial is not None:
        name += f"<{attribute.partial.start}>"
    return name.encode("ascii")


def _item(row: FetchRow, attribute: FetchAttribute, recent: bool) -> bytes:
    name = attribute.name

    if attribute.section is not None:
        data = section_bytes(row, attribute.section)
        if attribute.partial is not None:
            start = attribute.partial.start
            data = data[start : start + attribute.partial.length]
        return response_name(attribute) + b" " + wire.literal(data)

    if name == "UID":
        return b"UID %d" % row.uid
    if name == "FLAGS":
        return b"FLAGS " + format_flag_list(row.flags, recent=recent)
    if name == "INTERNALDATE":
        assert row.internal_date is not None
        return b"INTERNALDATE " + wire.format_internaldate(row.internal_date)
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % row.size
    if name == "ENVELOPE":
        return b"ENVELOPE " + row.envelope
    if name == "BODYSTRUCTURE":
        return b"BODYSTRUCTURE " + row.bodystructure
    if name == "BODY":
        return b"BODY " + row.body
    if name == "RFC822":
        return b"RFC822 " + wire.literal(row.raw or b"")
    if name == "RFC822.HEADER":
        return b"RFC822.HEADER " + wire.literal(_whole_or_part(row, "HEADER"))
    if name == "RFC822.TEXT":
        return b"RFC822.TEXT " + wire.literal(_whole_or_part(row, "TEXT"))
    raise FetchRefused(f"{name} is not supported")
