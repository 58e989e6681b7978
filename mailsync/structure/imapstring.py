"""IMAP string forms (RFC 3501 section 4.3), chosen the way Dovecot 2.3 does.

Dovecot writes a string quoted when it can and as a literal otherwise. A
quoted string may escape a few quote or backslash characters; CR, LF, 8-bit
octets or many escapes make it a literal. Display text (subjects, names)
goes through ``for_humans``, which also tidies whitespace and turns any
changed value into a literal.
"""

import logging

logger = logging.getLogger(__name__)

NIL = b"NIL"

# Dovecot escapes at most this many quotes or backslashes inside a quoted
# string; one more and it switches to a literal.
MAX_QUOTED_ESCAPES = 4


def literal(value: bytes) -> bytes:
    return b"{%d}\r\n" % len(value) + value


def string(value: bytes) -> bytes:
    """Write a string, quoted if Dovecot would quote it, else as a literal."""
    escapes = 0
    for octet in value:
        if octet in (0x22, 0x5C):
            escapes += 1
            if escapes > MAX_QUOTED_ESCAPES:
                return literal(value)
        elif octet in (0x0D, 0x0A) or octet >= 0x80:
            return literal(value)

    if escapes:
        value = value.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    return b'"' + value + b'"'


def nstring(value: bytes | None) -> bytes:
    return NIL if value is None else string(value)


def nstring_nolf(value: bytes | None) -> bytes:
    """Like ``nstring``, after dropping the CR and LF of folded lines."""
    if value is None:
        return NIL
    return string(value.replace(b"\r", b"").replace(b"\n", b""))


def for_humans(value: bytes | None) -> bytes:
    """Write display text: unfolded, whitespace runs collapsed, trimmed.

    Any value that needs one of these changes, or holds 8-bit octets,
    quotes or backslashes, is written as a literal even when the cleaned
    text could be quoted; an all-whitespace value becomes ``""``.
    """
    if value is None:
        return NIL
    if not _needs_cleaning(value):
        return b'"' + value + b'"'

    cleaned = bytearray()
    pending_space = False
    for octet in value:
        if octet in (0x0D, 0x0A):
            continue
        if octet in (0x20, 0x09):
            pending_space = bool(cleaned)
            continue
        if pending_space:
            cleaned.append(0x20)
            pending_space = False
        # NUL cannot travel inside an IMAP string.
        cleaned.append(0x80 if octet == 0 else octet)

    if not cleaned:
        return b'""'
    return literal(bytes(cleaned))


def _needs_cleaning(value: bytes) -> bool:
    previous_was_space = True
    for octet in value:
        if octet in (0x20, 0x09):
            if previous_was_space or octet == 0x09:
                return True
            previous_was_space = True
            continue
        if octet in (0x00, 0x0D, 0x0A, 0x22, 0x5C) or octet >= 0x80:
            return True
        previous_was_space = False
    # A trailing space is trimmed, which is a change.
    return bool(value) and previous_was_space
