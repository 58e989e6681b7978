"""IMAP ENVELOPE (RFC 3501 section 7.4.2), byte for byte as Dovecot 2.3.

Date, Subject, In-Reply-To and Message-ID are raw header values (the last
field of each name wins); encoded words stay encoded. Address fields of the
same name are concatenated; Sender and Reply-To default to From. Addresses
are parsed leniently, the way Dovecot reads broken mail: whatever a header
yields is kept, missing halves read ``MISSING_MAILBOX`` / ``MISSING_DOMAIN``,
a broken <angle address> gets the domain ``SYNTAX_ERROR`` and a broken
route ``INVALID_ROUTE``. A group is ``(NIL NIL "name" NIL)`` ... ``(NIL NIL
NIL NIL)``.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from mailsync.structure import imapstring
from mailsync.structure.headers import HeaderField
from mailsync.structure.rfc822 import END, ERROR, MORE, Scanner

logger = logging.getLogger(__name__)

MISSING_MAILBOX = b"MISSING_MAILBOX"
MISSING_DOMAIN = b"MISSING_DOMAIN"
SYNTAX_ERROR = b"SYNTAX_ERROR"
INVALID_ROUTE = b"INVALID_ROUTE"

ADDRESS_FIELDS = (b"from", b"sender", b"reply-to", b"to", b"cc", b"bcc")
TEXT_FIELDS = (b"date", b"subject", b"in-reply-to", b"message-id")

EMPTY_ENVELOPE = b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"


@dataclass
class Address:
    """One ENVELOPE address; a group start has only ``mailbox`` (its name)
    and a group end has nothing."""

    name: bytes | None = None
    route: bytes | None = None
    mailbox: bytes | None = None
    domain: bytes | None = None

    @property
    def is_group_marker(self) -> bool:
        return self.domain is None


@dataclass
class EnvelopeFields:
    """The header values an ENVELOPE is made of, before serialisation."""

    date: bytes | None
    subject: bytes | None
    in_reply_to: bytes | None
    message_id: bytes | None
    addresses: dict[bytes, list[Address]]

    def address_list(self, key: bytes) -> list[Address]:
        found = self.addresses.get(key, [])
        if not found and key in (b"sender", b"reply-to"):
            return self.addresses.get(b"from", [])
        return found


def collect_fields(fields: Iterable[HeaderField]) -> EnvelopeFields:
    texts: dict[bytes, bytes] = {}
    addresses: dict[bytes, list[Address]] = {}
    for header in fields:
        key = header.key
        if key in TEXT_FIELDS:
            texts[key] = header.value
        elif key in ADDRESS_FIELDS:
            addresses.setdefault(key, []).extend(parse_addresses(header.value))
    return EnvelopeFields(
        date=texts.get(b"date"),
        subject=texts.get(b"subject"),
        in_reply_to=texts.get(b"in-reply-to"),
        message_id=texts.get(b"message-id"),
        addresses=addresses,
    )


def envelope(fields: Iterable[HeaderField]) -> bytes:
    """Serialise the ENVELOPE of a message from its header fields."""
    return write_envelope(collect_fields(fields))


def write_envelope(collected: EnvelopeFields) -> bytes:
    items = [
        imapstring.nstring_nolf(collected.date),
        imapstring.for_humans(collected.subject),
    ]
    for key in ADDRESS_FIELDS:
        items.append(address_list(collected.address_list(key)))
    items.append(imapstring.nstring_nolf(collected.in_reply_to))
    items.append(imapstring.nstring_nolf(collected.message_id))
    return b"(" + b" ".join(items) + b")"


def address_list(addresses: list[Address]) -> bytes:
    if not addresses:
        return imapstring.NIL
    written = [
        b"(%s %s %s %s)"
        % (
            imapstring.for_humans(address.name),
            imapstring.nstring_nolf(address.route),
            imapstring.nstring_nolf(address.mailbox),
            imapstring.nstring_nolf(address.domain),
        )
        for address in addresses
    ]
    return b"(" + b"".join(written) + b")"


def parse_addresses(value: bytes) -> list[Address]:
    """Parse an address-list header value the forgiving way."""
    return _AddressParser(value).parse()


class _AddressParser:
    def __init__(self, value: bytes) -> None:
        self.scanner = Scanner(value)
        self.addresses: list[Address] = []

    def parse(self) -> list[Address]:
        scanner = self.scanner
        if scanner.skip_cfws() <= 0:
            return self.addresses
        while True:
            result = self._address()
            if result == END or not scanner.at(b","):
                break
            # After a comma comes another address, even a broken one.
            scanner.pos += 1
            if scanner.skip_cfws() == END:
                break
        return self.addresses

    def _address(self) -> int:
        scanner = self.scanner
        start = scanner.pos
        name = bytearray()
        result = scanner.phrase(name)
        if result <= 0 or not scanner.at(b":"):
            scanner.pos = start
            return self._mailbox()
        return self._group(bytes(name))

    def _group(self, name: bytes) -> int:
        scanner = self.scanner
        scanner.pos += 1
        self.addresses.append(Address(mailbox=name))

        result = scanner.skip_cfws()
        if result > 0 and not scanner.at(b";"):
            while True:
                result = self._mailbox()
                if result == END or not scanner.at(b","):
                    break
                # After a comma comes another mailbox, even an empty one.
                scanner.pos += 1
                result = scanner.skip_cfws()
                if result <= 0:
                    break

        if scanner.at(b";"):
            scanner.pos += 1
            result = scanner.skip_cfws()
        self.addresses.append(Address())
        return result

    def _mailbox(self) -> int:
        scanner = self.scanner
        address = Address()
        start = scanner.pos
        name = bytearray()
        result = scanner.phrase(name)
        if result <= 0 or not scanner.at(b"<"):
            scanner.pos = start
            result = self._addr_spec(address)
        else:
            if name:
                address.name = bytes(name)
            result = self._angle_addr(address)

        if address.mailbox is None:
            address.mailbox = MISSING_MAILBOX
        if not address.domain:
            address.domain = MISSING_DOMAIN
        self.addresses.append(address)
        return result

    def _local_part(self, address: Address, out: bytearray) -> int:
        scanner = self.scanner
        if scanner.at(b'"'):
            result = scanner.quoted_string(out)
        else:
            result = scanner.local_part(out)
        if result >= 0:
            address.mailbox = bytes(out)
        return result

    def _addr_spec(self, address: Address) -> int:
        scanner = self.scanner
        scanner.last_comment.clear()
        quoted = scanner.at(b'"')
        local = bytearray()
        result = self._local_part(address, local)

        has_domain = False
        if result != END and scanner.at(b"@"):
            has_domain = True
            domain = bytearray()
            domain_result = scanner.domain(domain)
            if domain_result >= 0:
                address.domain = bytes(domain)
            if domain_result <= 0:
                result = domain_result

        if scanner.last_comment:
            address.name = bytes(scanner.last_comment)
        elif not has_domain and (result >= 0 or (local and not quoted)):
            # A lone word is a mailbox without a domain; more words (or a
            # quoted string) were a display name without an address.
            more = bytearray()
            scanner.phrase(more, leading_dot=not quoted)
            if more:
                address.mailbox = None
                address.name = bytes(local) + b" " + bytes(more)
            elif quoted:
                address.mailbox = None
                address.name = bytes(local)
            result = ERROR
        return result

    def _angle_addr(self, address: Address) -> int:
        scanner = self.scanner
        scanner.pos += 1
        result = scanner.skip_cfws()

        if result > 0 and scanner.at(b"@"):
            route = self._route()
            if route is not None and scanner.at(b":"):
                address.route = route
                scanner.pos += 1
                result = scanner.skip_cfws()
            else:
                address.route = INVALID_ROUTE
                result = END if scanner.pos >= scanner.end else MORE

        if result > 0 and scanner.at(b">"):
            # "<>": a null address, not an error.
            scanner.pos += 1
            result = scanner.skip_cfws()
            if result >= 0:
                return result
            address.domain = SYNTAX_ERROR
            return ERROR

        if result > 0 and self._angle_addr_spec(address) and scanner.at(b">"):
            scanner.pos += 1
            result = scanner.skip_cfws()
            if result >= 0:
                return result

        address.domain = SYNTAX_ERROR
        return ERROR

    def _angle_addr_spec(self, address: Address) -> bool:
        scanner = self.scanner
        if self._local_part(address, bytearray()) <= 0:
            return False
        if not scanner.at(b"@"):
            return True
        domain = bytearray()
        if scanner.domain(domain) <= 0:
            return False
        address.domain = bytes(domain)
        return True

    def _route(self) -> bytes | None:
        scanner = self.scanner
        route = bytearray()
        while scanner.at(b"@"):
            if route:
                route += b","
            route += b"@"
            if scanner.domain(route) <= 0:
                return None
            while scanner.at(b","):
                scanner.pos += 1
                if scanner.skip_cfws() <= 0:
                    return None
        return bytes(route)
