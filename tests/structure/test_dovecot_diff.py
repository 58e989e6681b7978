"""Differential proof: our structure answers equal Dovecot's, byte for byte.

Every corpus message and every edge case in tests/structure/messages is
stored in a real Dovecot; each test FETCHes one kind of item there and
compares it with what mailsync.structure computes from the same bytes.
"""

import pytest

from mailsync.structure import analyze, slice_section
from tests.structure.conftest import DovecotMailbox, Sample, samples

THUNDERBIRD_FIELDS = (
    "From To Cc Bcc Subject Date Message-ID Priority X-Priority References "
    "Newsgroups In-Reply-To Content-Type Reply-To"
)
APPLE_MAIL_FIELDS = (
    "date subject from to cc message-id in-reply-to references x-priority "
    "x-uniform-type-identifier x-universally-unique-identifier"
)
MBSYNC_FIELDS = "X-TUID"

HEADER_SECTIONS = [
    f"HEADER.FIELDS ({THUNDERBIRD_FIELDS})",
    f"HEADER.FIELDS ({APPLE_MAIL_FIELDS})",
    f"HEADER.FIELDS ({MBSYNC_FIELDS})",
    f"HEADER.FIELDS.NOT ({THUNDERBIRD_FIELDS})",
    "HEADER.FIELDS.NOT (Received DKIM-Signature)",
]
PARTIAL_RANGES = [(0, 100), (10, 50)]

# Deliberate differences from Dovecot: (sample id, check) -> why.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}

# Dovecot refuses to store an empty message; test_structure covers that one.
SAMPLES = [sample for sample in samples() if sample.message]


def sample_params(check: str) -> list:
    params = []
    for sample in SAMPLES:
        marks = []
        reason = KNOWN_DIFFERENCES.get((sample.id, check))
        if reason:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        params.append(pytest.param(sample, id=sample.id, marks=marks))
    return params


def assert_same(ours: bytes, theirs: bytes | None, what: str = "") -> None:
    """Compare octets and, on a mismatch, show where they part ways."""
    theirs = theirs or b""
    if ours == theirs:
        return
    at = next(
        (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
        min(len(ours), len(theirs)),
    )
    window = slice(max(0, at - 80), at + 80)
    pytest.fail(
        f"{what} differs at octet {at} (ours {len(ours)}, Dovecot {len(theirs)})\n"
        f"ours:    {ours[window]!r}\nDovecot: {theirs[window]!r}"
    )


def fetch_one(mailbox: DovecotMailbox, sample: Sample, item: str):
    return mailbox.fetch(sample, item)[_response_name(item)]


def _response_name(item: str) -> str:
    # BODY.PEEK[x]<o.n> is answered as BODY[x]<o>.
    name = item.upper().replace("BODY.PEEK[", "BODY[")
    if "]<" in name:
        name = name[: name.index(".", name.index("]<"))] + ">"
    return name


@pytest.mark.parametrize("sample", sample_params("size"))
def test_rfc822_size(dovecot_mailbox: DovecotMailbox, sample: Sample) -> None:
    theirs = fetch_one(dovecot_mailbox, sample, "RFC822.SIZE").raw
    assert_same(b"%d" % analyze(sample.message).size, theirs)


@pytest.mark.parametrize("sample", sample_params("envelope"))
def test_envelope(dovecot_mailbox: DovecotMailbox, sample: Sample) -> None:
    theirs = fetch_one(dovecot_mailbox, sample, "ENVELOPE").raw
    assert_same(analyze(sample.message).envelope, theirs)


@pytest.mark.parametrize("sample", sample_params("bodystructure"))
def test_bodystructure(dovecot_mailbox: DovecotMailbox, sample: Sample) -> None:
    theirs = fetch_one(dovecot_mailbox, sample, "BODYSTRUCTURE").raw
    assert_same(analyze(sample.message).bodystructure, theirs)


@pytest.mark.parametrize("sample", sample_params("body"))
def test_body(dovecot_mailbox: DovecotMailbox, sample: Sample) -> None:
    theirs = fetch_one(dovecot_mailbox, sample, "BODY").raw
    assert_same(analyze(sample.message).body, theirs)


@pytest.mark.parametrize("sample", sample_params("header_text"))
def test_header_and_text(dovecot_mailbox: DovecotMailbox, sample: Sample) -> None:
    parts = analyze(sample.message).parts
    for section in ("", "HEADER", "TEXT"):
        theirs = fetch_one(dovecot_mailbox, sample, f"BODY.PEEK[{section}]").value
        assert_same(slice_section(sample.message, parts, section), theirs, section)


@pytest.mark.parametrize("sample", sample_params("parts"))
def test_every_part(dovecot_mailbox: DovecotMailbox, sample: Sample) -> None:
    structure = fetch_one(dovecot_mailbox, sample, "BODYSTRUCTURE").value
    sections = []
    for path, is_message in part_paths(structure):
        sections += [path, f"{path}.MIME"]
        if is_message:
            sections += [f"{path}.HEADER", f"{path}.TEXT"]

    items = " ".join(f"BODY.PEEK[{section}]" for section in sections)
    answers = dovecot_mailbox.fetch(sample, items)
    parts = analyze(sample.message).parts
    for section in sections:
        theirs = answers[f"BODY[{section}]"].value
        assert_same(slice_section(sample.message, parts, section), theirs, section)


@pytest.mark.parametrize("section", HEADER_SECTIONS, ids=lambda s: s[:24])
@pytest.mark.parametrize("sample", sample_params("header_fields"))
def test_header_fields(
    dovecot_mailbox: DovecotMailbox, sample: Sample, section: str
) -> None:
    item = f"BODY.PEEK[{section}]"
    theirs = dovecot_mailbox.fetch_settled(sample, item)[_response_name(item)].value
    parts = analyze(sample.message).parts
    assert_same(slice_section(sample.message, parts, section), theirs)


@pytest.mark.parametrize("sample", sample_params("partial"))
def test_partial_fetch(dovecot_mailbox: DovecotMailbox, sample: Sample) -> None:
    for origin, count in PARTIAL_RANGES:
        item = f"BODY.PEEK[]<{origin}.{count}>"
        theirs = fetch_one(dovecot_mailbox, sample, item).value
        whole = slice_section(sample.message, analyze(sample.message).parts, "")
        assert_same(whole[origin : origin + count], theirs, item)


def part_paths(structure: list, prefix: str = "") -> list[tuple[str, bool]]:
    """Every section path of a parsed BODYSTRUCTURE, the IMAP way."""
    if isinstance(structure[0], list):
        return _children_paths(structure, prefix)
    path = prefix or "1"
    return [(path, _is_message(structure))] + _nested_paths(structure, path)


def _children_paths(multipart: list, prefix: str) -> list[tuple[str, bool]]:
    paths = []
    children = [item for item in multipart if isinstance(item, list)]
    # Children come first; the lists after the subtype are extension data.
    children = children[: _first_non_list(multipart)]
    for index, child in enumerate(children, start=1):
        path = f"{prefix}.{index}" if prefix else str(index)
        if isinstance(child[0], list):
            paths += _children_paths(child, path)
            continue
        paths.append((path, _is_message(child)))
        paths += _nested_paths(child, path)
    return paths


def _nested_paths(single: list, path: str) -> list[tuple[str, bool]]:
    if not _is_message(single):
        return []
    inner = single[8]
    if isinstance(inner[0], list):
        return _children_paths(inner, path)
    return [(f"{path}.1", _is_message(inner))] + _nested_paths(inner, f"{path}.1")


def _first_non_list(items: list) -> int:
    for position, item in enumerate(items):
        if not isinstance(item, list):
            return position
    return len(items)


def _is_message(single: list) -> bool:
    media_type = (single[0] or b"").lower(), (single[1] or b"").lower()
    return media_type == (b"message", b"rfc822")
