"""The record of recent sends (mailsync/sendrecorder.py)."""

import pytest
from django.core.cache import cache

from mailsync import sendrecorder
from tests.smtp.messages import plain, with_attachment


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_a_programs_own_copy_of_a_sent_message_is_found():
    sent = plain("alice@proton.test", "bob@example.org", "Hi", "Line one\nLine two\n")
    sent["Bcc"] = "hidden@example.org"
    digest = sendrecorder.message_hash(bytes(sent))
    sendrecorder.record_sent(7, digest, "provider-id-1")

    # The copy filed in Sent: another Message-ID and Date, no Bcc, and a
    # different transfer encoding.
    copy = plain("alice@proton.test", "bob@example.org", "Hi", "Line one\nLine two\n")
    copy.set_content("Line one\nLine two\n", cte="base64")
    copy["Date"] = "Mon, 1 Jan 2024 10:00:00 +0000"

    assert sendrecorder.recent_sent_message(7, bytes(copy)) == "provider-id-1"


def test_another_message_or_account_is_not_found():
    sent = plain("alice@proton.test", "bob@example.org", "Hi", "Hello\n")
    sendrecorder.record_sent(7, sendrecorder.message_hash(bytes(sent)), "id-1")

    other_body = plain("alice@proton.test", "bob@example.org", "Hi", "Goodbye\n")
    other_recipient = plain("alice@proton.test", "carol@example.org", "Hi", "Hello\n")

    assert sendrecorder.recent_sent_message(7, bytes(other_body)) is None
    assert sendrecorder.recent_sent_message(7, bytes(other_recipient)) is None
    assert sendrecorder.recent_sent_message(8, bytes(sent)) is None


def test_the_same_attachment_under_another_name_is_another_message():
    report = with_attachment("alice@proton.test", "bob@example.org", b"%PDF", "q1.pdf")
    renamed = with_attachment("alice@proton.test", "bob@example.org", b"%PDF", "q2.pdf")

    assert sendrecorder.message_hash(bytes(report)) != sendrecorder.message_hash(
        bytes(renamed)
    )


def test_claims_make_a_second_send_wait_or_reuse_the_first():
    digest = sendrecorder.message_hash(bytes(plain("a@x.test", "b@y.test")))
    recipients = ["b@y.test"]

    assert sendrecorder.claim_send(1, digest, recipients) is None
    assert sendrecorder.claim_send(1, digest, recipients) == sendrecorder.PENDING
    # Other recipients make it another send.
    assert sendrecorder.claim_send(1, digest, ["c@y.test"]) is None

    sendrecorder.finish_send(1, digest, recipients, "sent-1")
    assert sendrecorder.claim_send(1, digest, ["B@Y.test"]) == "sent-1"


def test_a_released_claim_lets_a_retry_send():
    digest = "0" * 64
    assert sendrecorder.claim_send(1, digest, ["b@y.test"]) is None

    sendrecorder.release_send(1, digest, ["b@y.test"])

    assert sendrecorder.claim_send(1, digest, ["b@y.test"]) is None
