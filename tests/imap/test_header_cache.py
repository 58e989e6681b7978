"""Header-only FETCH reads the separately sealed header, with the same bytes.

The index seals each message's top-level header apart from the whole
message (``CachedMessage.header_sealed``), so FETCH of HEADER,
HEADER.FIELDS, HEADER.FIELDS.NOT and RFC822.HEADER opens a few hundred
octets. What it serves must equal slicing the whole message: every corpus
message is indexed the way the sync does it and the answers are compared
with the header copy in place and with it gone (the path for rows cached
before the copy existed).
"""

import pytest

from accounts import secretbox
from mailsync import cache
from mailsync.models import CachedMessage, Message
from tests.fixtures.imap import RawClient, index_raw
from tests.structure.conftest import samples
from tests.support import corpus_files

SAMPLES = [sample for sample in samples() if sample.message]

THUNDERBIRD = (
    "BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority "
    "X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)]"
)

# Item lists that need only the top-level header, as mail programs send them.
HEADER_ONLY_FETCHES = [
    f"UID RFC822.SIZE FLAGS {THUNDERBIRD}",
    "BODY.PEEK[HEADER.FIELDS (X-TUID)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (Received DKIM-Signature)]",
    "BODY.PEEK[HEADER] RFC822.HEADER",
    "BODY.PEEK[HEADER]<0.40> BODY.PEEK[HEADER.FIELDS (Subject)]<3.10>",
]


def _fetch_all(client: RawClient) -> dict[str, list[bytes]]:
    return {
        items: client.command(b"UID FETCH 1:* (%s)" % items.encode()).untagged
        for items in HEADER_ONLY_FETCHES
    }


def test_every_corpus_header_answer_is_the_same_from_the_header_copy(
    imap_server, mail_account
) -> None:
    assert corpus_files(), "the shared corpus is missing (see tests/support.py)"
    index_raw(mail_account, [sample.message for sample in SAMPLES])

    messages = Message.objects.filter(account=mail_account.account)
    assert messages.count() == len(SAMPLES)
    for message in messages:
        whole = cache.read_message(message)
        sealed_header = message.cached.header_sealed
        header = cache.open_header(
            message.account_id, message.provider_id, bytes(sealed_header)
        )
        assert header == whole[: cache.header_end(message.parts)], message

    client = RawClient(imap_server.port, mail_account.email, mail_account.password)
    try:
        client.command(b"SELECT INBOX")
        from_header_copy = _fetch_all(client)

        # Rows cached before the header copy existed have none.
        CachedMessage.objects.filter(message__in=messages).update(header_sealed=b"")
        from_whole_message = _fetch_all(client)
    finally:
        client.close()

    for items in HEADER_ONLY_FETCHES:
        assert len(from_header_copy[items]) >= len(SAMPLES), items
        assert from_header_copy[items] == from_whole_message[items], items


def test_header_fetch_does_not_open_the_whole_message(
    imap_server, mail_account
) -> None:
    raw = (
        b"From: a@example.com\r\nSubject: kept apart\r\n\r\n"
        + b"a long body line\r\n" * 1000
    )
    index_raw(mail_account, [raw])
    # A whole message that no longer opens: only the header copy can answer.
    CachedMessage.objects.filter(message__account=mail_account.account).update(
        sealed=b"\x01" + b"\x00" * 40
    )

    client = RawClient(imap_server.port, mail_account.email, mail_account.password)
    try:
        client.command(b"SELECT INBOX")
        answer = client.command(b"FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])")
    finally:
        client.close()

    assert answer.untagged == [
        b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {23}\r\n"
        b"Subject: kept apart\r\n\r\n)\r\n"
    ]


def test_cache_columns_seal_the_header_for_this_message_only() -> None:
    raw = b"Subject: hello\r\nTo: b@example.com\r\n\r\nbody\r\n"
    parts = {"": [0, 37, 37, len(raw)]}

    columns = cache.cache_columns(7, "message-a", raw, parts)

    assert cache.open_body(7, "message-a", columns["sealed"]) == raw
    assert cache.open_header(7, "message-a", columns["header_sealed"]) == raw[:37]
    with pytest.raises(secretbox.SecretBoxError):
        cache.open_header(7, "message-b", columns["header_sealed"])
    with pytest.raises(secretbox.SecretBoxError):
        cache.open_header(8, "message-a", columns["header_sealed"])


def test_no_known_header_end_leaves_the_header_copy_empty() -> None:
    columns = cache.cache_columns(7, "message-a", b"Subject: x\r\n\r\n", {})

    assert columns["header_sealed"] == b""
    assert cache.open_header(7, "message-a", columns["header_sealed"]) is None
