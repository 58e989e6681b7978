"""mailsync.structure without Dovecot: the API, its edges and invariants."""

import json
import random
from datetime import UTC, datetime

import pytest

from mailsync.structure import (
    SectionError,
    analyze,
    header_fields,
    normalize_crlf,
    slice_section,
)
from tests.structure.conftest import samples

MULTIPART = normalize_crlf(
    b"""From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.test>
To: Ana <ana@example.test>, team: bo@example.test;
Cc: cc@example.test
Subject: =?utf-8?b?R3LDvMOfZQ==?= from
 the team
Date: Tue, 1 Jul 2003 10:52:37 +0200
Message-ID: <one@example.test>
In-Reply-To: <zero@example.test>
X-Priority: 3
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=outer

preamble
--outer
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 au lait
--outer
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+SGVsbG8gPGI+d29ybGQ8L2I+PC9wPg==
--outer
Content-Type: message/rfc822

Subject: inner
From: inner@example.test

inner body
--outer--
"""
)


def test_normalize_crlf_turns_bare_lf_and_cr_into_crlf() -> None:
    assert normalize_crlf(b"a\nb\rc\r\nd\r\r\n") == b"a\r\nb\r\nc\r\nd\r\n\r\n"


def test_normalize_crlf_keeps_crlf_text_unchanged() -> None:
    text = b"Subject: x\r\n\r\nbody\r\n"
    assert normalize_crlf(text) == text


def test_size_is_the_length_of_the_crlf_message() -> None:
    assert analyze(MULTIPART).size == len(MULTIPART)


def test_parts_slice_each_section() -> None:
    analysis = analyze(MULTIPART)

    assert slice_section(MULTIPART, analysis.parts, "1") == b"Caf=C3=A9 au lait"
    assert slice_section(MULTIPART, analysis.parts, "2.MIME").startswith(
        b"Content-Type: text/html"
    )
    assert slice_section(MULTIPART, analysis.parts, "3.HEADER") == (
        b"Subject: inner\r\nFrom: inner@example.test\r\n\r\n"
    )
    assert slice_section(MULTIPART, analysis.parts, "3.TEXT") == b"inner body"
    assert slice_section(MULTIPART, analysis.parts, "3.1") == b"inner body"


def test_whole_header_and_text_of_the_message() -> None:
    analysis = analyze(MULTIPART)
    header = slice_section(MULTIPART, analysis.parts, "HEADER")

    assert header.endswith(b"boundary=outer\r\n\r\n")
    assert len(header) == analysis.header_end
    assert slice_section(MULTIPART, analysis.parts, "TEXT").startswith(b"preamble")
    assert slice_section(MULTIPART, analysis.parts, "") == MULTIPART


def test_section_names_are_case_insensitive() -> None:
    parts = analyze(MULTIPART).parts
    upper = slice_section(MULTIPART, parts, "HEADER.FIELDS (SUBJECT)")
    assert slice_section(MULTIPART, parts, "header.fields (subject)") == upper


def test_missing_part_is_empty() -> None:
    assert slice_section(MULTIPART, analyze(MULTIPART).parts, "9.2") == b""


def test_header_and_text_of_a_plain_part_are_empty() -> None:
    parts = analyze(MULTIPART).parts
    assert slice_section(MULTIPART, parts, "1.HEADER") == b""
    assert slice_section(MULTIPART, parts, "1.TEXT") == b""


@pytest.mark.parametrize(
    "section", ["MIME", "1.BOGUS", "HEADER.FIELDS", "TEXT (From)", "1..2"]
)
def test_malformed_section_is_refused(section: str) -> None:
    with pytest.raises(SectionError):
        slice_section(MULTIPART, analyze(MULTIPART).parts, section)


def test_header_fields_keep_message_order_and_folding() -> None:
    header = b"Subject: a\r\n b\r\nFrom: x@example.test\r\nTo: y@example.test\r\n\r\n"
    assert header_fields(header, ["to", "SUBJECT"]) == (
        b"Subject: a\r\n b\r\nTo: y@example.test\r\n\r\n"
    )


def test_header_fields_end_with_empty_line_when_nothing_matches() -> None:
    assert header_fields(b"Subject: a\r\n\r\n", ["X-TUID"]) == b"\r\n"


def test_header_fields_not_returns_the_other_fields() -> None:
    header = b"Subject: a\r\nX-TUID: abc\r\nFrom: x@example.test\r\n\r\n"
    assert header_fields(header, ["x-tuid"], exclude=True) == (
        b"Subject: a\r\nFrom: x@example.test\r\n\r\n"
    )


def test_header_fields_accept_bytes_names() -> None:
    assert header_fields(b"X-A: 1\r\n\r\n", [b"x-a"]) == b"X-A: 1\r\n\r\n"


def test_search_fields_are_decoded() -> None:
    analysis = analyze(MULTIPART)

    assert analysis.subject == "Grüße from the team"
    assert analysis.from_text == "Jürgen <jurgen@example.test>"
    assert analysis.to_text == "Ana <ana@example.test>, bo@example.test"
    assert analysis.cc_text == "cc@example.test"
    assert analysis.bcc_text == ""
    assert analysis.date == datetime(2003, 7, 1, 8, 52, 37, tzinfo=UTC)
    assert analysis.message_id == "<one@example.test>"
    assert analysis.in_reply_to == "<zero@example.test>"
    assert "X-Priority: 3" in analysis.header_text


def test_broken_base64_word_is_decoded_as_far_as_it_goes() -> None:
    # Blanks between encoded words go, as RFC 2047 says.
    subject = b"Subject: =?utf-8?b?R3LDvMOfZ?= =?utf-8?q?caf=C3=A9?=\r\n\r\nx"
    assert analyze(subject).subject == "Grüßcafé"


def test_address_placeholders_stay_out_of_search_text() -> None:
    analysis = analyze(b"From: Big Bug bb@bug.test\r\nTo: Array, g:;\r\n\r\nx")

    assert analysis.from_text == "Big Bug bb"
    assert analysis.to_text == "Array"


def test_search_text_holds_decoded_text_parts_only() -> None:
    text = analyze(MULTIPART).search_text

    assert "Café au lait" in text
    assert "Hello world" in text
    assert "<b>" not in text
    assert "inner body" in text
    assert "preamble" not in text


def test_search_text_is_capped() -> None:
    message = b"Subject: long\r\n\r\n" + b"word " * 200_000
    assert len(analyze(message).search_text) == 256 * 1024


def test_unparsable_date_is_none() -> None:
    assert analyze(b"Date: someday\r\n\r\nx").date is None


def test_date_without_zone_is_taken_as_utc() -> None:
    date = analyze(b"Date: 1 Jul 2003 10:52:37\r\n\r\nx").date
    assert date == datetime(2003, 7, 1, 10, 52, 37, tzinfo=UTC)


def test_empty_message_is_analysed() -> None:
    analysis = analyze(b"")

    assert analysis.size == 0
    assert analysis.envelope == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    assert analysis.bodystructure == (
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'
    )
    assert slice_section(b"", analysis.parts, "1") == b""


def test_analysis_is_serialisable() -> None:
    analysis = analyze(MULTIPART)

    assert json.loads(json.dumps(analysis.parts)) == analysis.parts
    stored = json.loads(json.dumps(analysis.search_fields()))
    assert stored["date"] == "2003-07-01T10:52:37+02:00"
    assert isinstance(analysis.envelope, bytes)
    assert isinstance(analysis.bodystructure, bytes)


@pytest.mark.parametrize("sample", samples(), ids=lambda sample: sample.id)
def test_part_offsets_stay_inside_the_message(sample) -> None:
    analysis = analyze(sample.message)

    for path, offsets in analysis.parts.items():
        header_start, header_end, body_start, body_end = offsets[:4]
        assert 0 <= header_start <= header_end <= body_start <= body_end, path
        assert body_end <= analysis.size, path
        if len(offsets) == 6:
            assert body_start <= offsets[4] <= offsets[5] <= body_end, path


def mutated_messages(count: int) -> list[bytes]:
    """Corpus messages with lines dropped, doubled, cut or made boundaries."""
    rng = random.Random(20240501)
    originals = [sample.message for sample in samples() if sample.message]
    mutated = []
    for _ in range(count):
        lines = rng.choice(originals).split(b"\r\n")
        for _ in range(rng.randint(1, 4)):
            index = rng.randrange(len(lines))
            choice = rng.random()
            if choice < 0.3:
                del lines[index]
            elif choice < 0.5:
                lines.insert(index, rng.choice(lines))
            elif choice < 0.7:
                lines[index] = lines[index][: rng.randrange(len(lines[index]) + 1)]
            else:
                lines.insert(index, b"--" + rng.choice(lines)[:20])
            if not lines:
                lines = [b""]
        mutated.append(b"\r\n".join(lines))
    return mutated


def test_broken_messages_never_break_the_analysis() -> None:
    for message in mutated_messages(300):
        analysis = analyze(message)

        assert analysis.size == len(message)
        for path in analysis.parts:
            slice_section(message, analysis.parts, path)
            if path:
                slice_section(message, analysis.parts, f"{path}.MIME")


def test_random_octets_never_break_the_analysis() -> None:
    rng = random.Random(7)
    alphabet = b"\r\n\t :;,<>@\"()[]\\=?-*'%/abcXYZ\x80\xff"
    for _ in range(300):
        message = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        message = normalize_crlf(
            b"Content-Type: multipart/mixed; boundary=a\r\nTo: " + message
        )
        assert analyze(message).size == len(message)
