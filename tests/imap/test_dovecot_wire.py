"""The bridge's FETCH answers equal Dovecot's on the wire, byte for byte.

Every message of the shared corpus is stored in a real Dovecot and indexed
into the bridge as the sync would. The same ``UID FETCH`` goes to both
servers and the untagged responses are compared whole, after replacing the
message number, the UID and INTERNALDATE (which differ by design).

Deliberate differences are listed in ``KNOWN_DIFFERENCES`` with reasons.
One applies to every message: items come back in the order the client
asked for them (UID first), where Dovecot uses an order of its own; RFC 3501
leaves the order to the server, so items are compared one by one.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from accounts.models import LinkedAccount
from tests.fixtures.dovecot import DovecotClient, DovecotServer, parse_fetch
from tests.fixtures.imap import (
    RawClient,
    RunningIMAP,
    index_raw,
    make_mail_account,
    start_listener,
    stop_listener,
)
from tests.structure.conftest import Sample, samples
from tests.structure.test_dovecot_diff import part_paths

# The corpus is indexed once per module (committed outside the tests), so
# the tests only need the database set up, not a transaction of their own.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

DOVECOT_MAILBOX = "wire-diff"

THUNDERBIRD = (
    "BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority "
    "X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)]"
)
APPLE_MAIL = (
    "BODY.PEEK[HEADER.FIELDS (date subject from to cc message-id in-reply-to "
    "references x-priority x-uniform-type-identifier "
    "x-universally-unique-identifier)]"
)
MBSYNC = "BODY.PEEK[HEADER.FIELDS (X-TUID)]"
NEOMUTT_NOT = "BODY.PEEK[HEADER.FIELDS.NOT (Received DKIM-Signature)]"

# Each check is one FETCH item list sent as is to both servers.
CHECKS = {
    "summary": "UID RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY INTERNALDATE",
    "header_text": "BODY.PEEK[HEADER] BODY.PEEK[TEXT] RFC822.HEADER",
    "thunderbird": f"UID RFC822.SIZE {THUNDERBIRD}",
    "apple_mail": f"INTERNALDATE UID RFC822.SIZE {APPLE_MAIL}",
    "mbsync": f"UID RFC822.SIZE {MBSYNC}",
    "header_not": NEOMUTT_NOT,
    "partials": (
        "BODY.PEEK[]<0.100> BODY.PEEK[]<10.50> BODY.PEEK[TEXT]<5.20> "
        "BODY.PEEK[]<0.393216> BODY.PEEK[HEADER]<100000.10>"
    ),
    "whole": "BODY.PEEK[]",
}

# (sample id, check) -> why the bridge answers differently on purpose.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}

SAMPLES = [sample for sample in samples() if sample.message]

_NUMBER = re.compile(rb"^\* \d+ FETCH \(")
_UID = re.compile(rb"\bUID \d+")
_INTERNALDATE = re.compile(rb'INTERNALDATE "[^"]*"')


@dataclass
class WirePair:
    dovecot: DovecotClient
    bridge: RawClient
    dovecot_uids: dict[str, int]
    bridge_uids: dict[str, int]

    def both(self, sample: Sample, items: str) -> tuple[list[bytes], list[bytes]]:
        theirs = self.dovecot.command(
            b"UID FETCH %d (%s)" % (self.dovecot_uids[sample.id], items.encode())
        )
        ours = self.bridge.command(
            b"UID FETCH %d (%s)" % (self.bridge_uids[sample.id], items.encode())
        )
        return _normalised(ours.untagged), _normalised(theirs.untagged)


def _normalised(lines: list[bytes]) -> list[bytes]:
    result = []
    for line in lines:
        line = _NUMBER.sub(b"* 1 FETCH (", line)
        line = _UID.sub(b"UID 1", line)
        result.append(_INTERNALDATE.sub(b'INTERNALDATE "D"', line))
    return result


@pytest.fixture(scope="module")
def wire_pair(
    dovecot: DovecotServer,
    django_db_setup,
    django_db_blocker,
    imap_tls_files,
) -> Iterator[WirePair]:
    dovecot_client = dovecot.connect()
    dovecot_client.create(DOVECOT_MAILBOX)
    dovecot_uids = {
        sample.id: dovecot_client.append(DOVECOT_MAILBOX, sample.message)
        for sample in SAMPLES
    }
    dovecot_client.select(DOVECOT_MAILBOX)
    # Dovecot's very first answer for a header that ends without an empty
    # line carries one anyway; every later answer (from its cache) does not.
    # Its cache works per field, so ask for each field list once first and
    # compare against the steady answer.
    for fields in (THUNDERBIRD, APPLE_MAIL, MBSYNC, NEOMUTT_NOT):
        dovecot_client.command(b"FETCH 1:* (%s)" % fields.encode())

    # One indexed corpus for the whole module: building it takes seconds.
    with django_db_blocker.unblock():
        mail = make_mail_account(username="wire-owner", provider_user_id="wire")
        index_raw(mail, [sample.message for sample in SAMPLES])
        running: RunningIMAP = start_listener(*imap_tls_files)
        bridge = RawClient(running.port, mail.email, mail.password)
        bridge.command(b"SELECT INBOX")
        bridge_uids = {sample.id: uid for uid, sample in enumerate(SAMPLES, 1)}
        try:
            yield WirePair(dovecot_client, bridge, dovecot_uids, bridge_uids)
        finally:
            bridge.close()
            dovecot_client.close()
            stop_listener(running)
            LinkedAccount.objects.filter(pk=mail.account.pk).delete()
            mail.account.owner.delete()


def assert_same_lines(ours: list[bytes], theirs: list[bytes]) -> None:
    """Same FETCH items with the same octets; item order is free (see top)."""
    assert len(ours) == len(theirs), (ours, theirs)
    for mine, other in zip(ours, theirs, strict=True):
        if mine == other:
            continue
        my_items, their_items = parse_fetch(mine), parse_fetch(other)
        assert sorted(my_items) == sorted(their_items)
        for name, item in their_items.items():
            assert_same(my_items[name].raw, item.raw, name)


def assert_same(ours: bytes, theirs: bytes, what: str) -> None:
    if ours == theirs:
        return
    at = next(
        (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
        min(len(ours), len(theirs)),
    )
    window = slice(max(0, at - 100), at + 100)
    pytest.fail(
        f"{what} differs at octet {at} (ours {len(ours)}, Dovecot {len(theirs)})\n"
        f"ours:    {ours[window]!r}\nDovecot: {theirs[window]!r}"
    )


def params(check: str) -> list:
    found = []
    for sample in SAMPLES:
        reason = KNOWN_DIFFERENCES.get((sample.id, check))
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        found.append(pytest.param(sample, id=sample.id, marks=marks))
    return found


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("sample", params("fetch"))
def test_fetch_items(wire_pair: WirePair, sample: Sample, check: str) -> None:
    ours, theirs = wire_pair.both(sample, CHECKS[check])
    assert_same_lines(ours, theirs)


@pytest.mark.parametrize("sample", params("parts"))
def test_every_part(wire_pair: WirePair, sample: Sample) -> None:
    structure = parse_fetch(
        wire_pair.dovecot.command(
            b"UID FETCH %d (BODYSTRUCTURE)" % wire_pair.dovecot_uids[sample.id]
        ).untagged[0]
    )["BODYSTRUCTURE"].value
    sections = []
    for path, is_message in part_paths(structure):
        sections += [path, f"{path}.MIME"]
        if is_message:
            sections += [f"{path}.HEADER", f"{path}.TEXT"]

    items = " ".join(f"BODY.PEEK[{section}]" for section in sections)
    ours, theirs = wire_pair.both(sample, items)
    assert_same_lines(ours, theirs)
