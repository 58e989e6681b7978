"""IMAP message structure, computed once per message at sync time.

Pure functions over message bytes (no Django, no I/O). The output matches
Dovecot 2.3 byte for byte; tests/structure/test_dovecot_diff.py proves it
against a real Dovecot for every message of the shared corpus.

API:

- ``normalize_crlf(raw) -> bytes``: bare LF and bare CR become CRLF (and
  NUL becomes 0x80, as Dovecot serves it). Call it before storing a
  message; everything below expects its output, and RFC822.SIZE is the
  length of exactly these bytes.
- ``analyze(message) -> MessageAnalysis`` with ``size``; ``envelope``,
  ``bodystructure`` and ``body`` (the IMAP text of ENVELOPE, BODYSTRUCTURE
  and BODY as bytes, literals included); ``parts``, section path ("" for
  the whole message, "1", "2.1", ...) -> ``[header_start, header_end,
  body_start, body_end]`` plus, for message/rfc822 parts, the encapsulated
  message's ``header_end`` and ``body_start`` (JSON-ready); ``header_end``
  of the top header block; the SEARCH fields ``subject``, ``from_text``,
  ``to_text``, ``cc_text``, ``bcc_text``, ``date`` (aware datetime or
  None), ``message_id``, ``in_reply_to``, ``header_text`` (one decoded
  "Name: value" line per field) and ``search_text`` (decoded text of the
  text/* parts, capped at 256 KiB characters); ``search_fields()`` gives
  them as a JSON-ready dict.
- ``slice_section(message, parts, section) -> bytes``: the octets of
  BODY[section] for "", "HEADER", "TEXT", "n", "n.MIME", "n.HEADER",
  "n.TEXT" and "[n.]HEADER.FIELDS[.NOT] (names)"; a part that does not
  exist, or HEADER/TEXT of a part that is no message/rfc822, gives b"" as
  Dovecot does; a malformed spec raises ``SectionError``. A <origin.count>
  range is the caller's slice of the result.
- ``header_fields(header_block, names, exclude=False) -> bytes``:
  BODY[HEADER.FIELDS (names)] / .NOT from a header block.
"""

from mailsync.structure.analyze import (
    MessageAnalysis,
    SectionError,
    analyze,
    normalize_crlf,
    slice_section,
)
from mailsync.structure.headers import header_fields

__all__ = [
    "MessageAnalysis",
    "SectionError",
    "analyze",
    "header_fields",
    "normalize_crlf",
    "slice_section",
]
