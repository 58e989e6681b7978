"""FETCH attributes, macros, sections and partial ranges."""

import pytest

from protocols.imap import commands as c
from protocols.imap.fetchatts import BodySection, FetchAttribute, Partial

from .helpers import parse, parse_error

FLAGS = FetchAttribute("FLAGS")
INTERNALDATE = FetchAttribute("INTERNALDATE")
SIZE = FetchAttribute("RFC822.SIZE")
ENVELOPE = FetchAttribute("ENVELOPE")


def fetch(attributes: bytes) -> c.FetchCommand:
    command = parse(b"a1 FETCH 1 " + attributes)
    assert isinstance(command, c.FetchCommand), command
    return command


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        pytest.param(b"FAST", (FLAGS, INTERNALDATE, SIZE), id="fast"),
        pytest.param(b"all", (FLAGS, INTERNALDATE, SIZE, ENVELOPE), id="all"),
        pytest.param(
            b"FULL",
            (FLAGS, INTERNALDATE, SIZE, ENVELOPE, FetchAttribute("BODY")),
            id="full",
        ),
    ],
)
def test_macros(attributes: bytes, expected: tuple) -> None:
    assert fetch(attributes).attributes == expected


@pytest.mark.parametrize(
    "name",
    [
        "FLAGS",
        "INTERNALDATE",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.SIZE",
        "RFC822.TEXT",
        "ENVELOPE",
        "BODY",
        "BODYSTRUCTURE",
        "UID",
        "MODSEQ",
    ],
)
def test_simple_attribute(name: str) -> None:
    assert fetch(name.lower().encode()).attributes == (FetchAttribute(name),)


@pytest.mark.parametrize(
    ("attribute", "expected", "response_name"),
    [
        pytest.param(
            b"BODY[]", FetchAttribute("BODY", BodySection()), "BODY[]", id="whole"
        ),
        pytest.param(
            b"BODY.PEEK[]<0.393216>",
            FetchAttribute("BODY", BodySection(), Partial(0, 393216), peek=True),
            "BODY[]<0>",
            id="ios-partial",
        ),
        pytest.param(
            b"BODY[HEADER]",
            FetchAttribute("BODY", BodySection(text="HEADER")),
            "BODY[HEADER]",
            id="header",
        ),
        pytest.param(
            b"BODY.PEEK[TEXT]",
            FetchAttribute("BODY", BodySection(text="TEXT"), peek=True),
            "BODY[TEXT]",
            id="text",
        ),
        pytest.param(
            b"BODY[1.2.3]",
            FetchAttribute("BODY", BodySection(part=(1, 2, 3))),
            "BODY[1.2.3]",
            id="part-path",
        ),
        pytest.param(
            b"BODY[2.mime]",
            FetchAttribute("BODY", BodySection(part=(2,), text="MIME")),
            "BODY[2.MIME]",
            id="mime",
        ),
        pytest.param(
            b"BODY[3.HEADER]<10.20>",
            FetchAttribute("BODY", BodySection((3,), "HEADER"), Partial(10, 20)),
            "BODY[3.HEADER]<10>",
            id="part-header-partial",
        ),
        pytest.param(
            b"BODY.PEEK[HEADER.FIELDS (X-TUID)]",
            FetchAttribute(
                "BODY",
                BodySection(text="HEADER.FIELDS", header_fields=("X-TUID",)),
                peek=True,
            ),
            "BODY[HEADER.FIELDS (X-TUID)]",
            id="mbsync-header-fields",
        ),
        pytest.param(
            b'BODY[1.HEADER.FIELDS.NOT ("Received" DKIM-Signature)]',
            FetchAttribute(
                "BODY",
                BodySection((1,), "HEADER.FIELDS.NOT", ("Received", "DKIM-Signature")),
            ),
            "BODY[1.HEADER.FIELDS.NOT (Received DKIM-Signature)]",
            id="header-fields-not",
        ),
    ],
)
def test_body_section(
    attribute: bytes, expected: FetchAttribute, response_name: str
) -> None:
    (parsed,) = fetch(attribute).attributes
    assert parsed == expected
    assert parsed.response_name() == response_name


def test_thunderbird_header_fetch_keeps_field_order() -> None:
    fields = (
        "From To Cc Bcc Subject Date Message-ID Priority X-Priority References "
        "Newsgroups In-Reply-To Content-Type Reply-To"
    )
    command = parse(
        b"a1 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ("
        + fields.encode()
        + b")])"
    )
    assert isinstance(command, c.FetchCommand)
    body = command.attributes[3]
    assert body.section is not None
    assert body.section.header_fields == tuple(fields.split())


@pytest.mark.parametrize(
    ("attribute", "sets_seen"),
    [
        (b"RFC822", True),
        (b"RFC822.TEXT", True),
        (b"RFC822.HEADER", False),
        (b"BODY[]", True),
        (b"BODY.PEEK[]", False),
        (b"BODY", False),
        (b"FLAGS", False),
    ],
)
def test_sets_seen(attribute: bytes, sets_seen: bool) -> None:
    (parsed,) = fetch(attribute).attributes
    assert parsed.sets_seen is sets_seen


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        pytest.param(b"()", "empty FETCH attribute list", id="empty-list"),
        pytest.param(b"(FLAGS", "unbalanced", id="unclosed-list"),
        pytest.param(b"FLAGS)", "unexpected", id="extra-parenthesis"),
        pytest.param(b"(FLAGS ALL)", "macro cannot appear", id="macro-in-list"),
        pytest.param(b"BODY[", "expected a section", id="unclosed-section"),
        pytest.param(b"BODY[HEADER", "']' to close", id="section-no-bracket"),
        pytest.param(b"BODY[FOO]", "invalid section", id="bad-section"),
        pytest.param(b"BODY[MIME]", "MIME needs a part", id="mime-without-part"),
        pytest.param(b"BODY[0]", "invalid part number", id="part-zero"),
        pytest.param(b"BODY[1.]", "invalid section", id="trailing-dot"),
        pytest.param(b"BODY[HEADER.FIELDS]", "expected a space", id="no-field-list"),
        pytest.param(b"BODY[HEADER.FIELDS ()]", "empty header", id="empty-fields"),
        pytest.param(b"BODY[HEADER.FIELDS (a:b)]", "field name", id="colon-in-field"),
        pytest.param(b"BODY[]<0>", "'.' in partial", id="partial-without-length"),
        pytest.param(b"BODY[]<0.0>", "partial length", id="partial-zero-length"),
        pytest.param(b"BODY.PEEK", "'[' after BODY.PEEK", id="peek-without-section"),
        pytest.param(b"X-GM-LABELS", "unknown FETCH attribute", id="unknown"),
        pytest.param(b"FLAGS (CHANGEDSINCE x)", "mod-sequence", id="bad-modifier"),
    ],
)
def test_bad_fetch(attributes: bytes, reason: str) -> None:
    error = parse_error(b"a1 FETCH 1 " + attributes)
    assert error.tag == "a1"
    assert reason in error.message
