"""Sends whose answer is lost: what the reference provider cannot stage.

Its faults strike before a request is carried out; a real provider can also
carry out a send and then lose the answer. A small in-memory provider stands
in here, with the real send flow, keys and send records.
"""

import asyncio
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache

from mailsync.provider import pgp
from mailsync.provider.errors import Timeout
from mailsync.provider.types import PublicKeys
from mailsync.send import send_message
from tests.provider.keys import new_key
from tests.smtp.messages import plain

PASSPHRASE = "test passphrase"


@dataclass
class Draft:
    id: str
    is_draft: bool = True


@dataclass
class SendingAddress:
    id: str = "address-1"
    email: str = "me@example.test"
    display_name: str = "Me"
    enabled: bool = True
    send: bool = True


@dataclass
class Unlocked:
    ring: pgp.KeyRing
    addresses: list = field(default_factory=lambda: [SendingAddress()])

    def keyring(self, address_id: str) -> pgp.KeyRing:
        return self.ring


class LosingProvider:
    """Sends every draft, then answers as ``answer`` says: lost or hung."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.drafts: dict[str, Draft] = {}
        self.deleted: list[str] = []
        self.sends = 0
        self.send_started = asyncio.Event()

    async def create_draft(self, template, **options) -> Draft:
        draft = Draft(f"draft-{len(self.drafts) + 1}")
        self.drafts[draft.id] = draft
        return draft

    async def get_public_keys(self, email: str) -> PublicKeys:
        return PublicKeys(keys=[], recipient_type=2)

    async def send_draft(self, draft_id: str, packages) -> Draft:
        self.sends += 1
        self.drafts[draft_id].is_draft = False
        self.send_started.set()
        if self.answer == "lost":
            raise Timeout(message="the answer never came", transient=True)
        await asyncio.Event().wait()  # hangs until cancelled

    async def get_message(self, message_id: str) -> Draft:
        return self.drafts[message_id]

    async def delete_messages(self, ids) -> None:
        self.deleted.extend(ids)


@pytest.fixture(scope="module")
def unlocked() -> Unlocked:
    key = new_key("me@example.test", PASSPHRASE)
    return Unlocked(pgp.KeyRing.unlock([str(key)], [PASSPHRASE]))


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def submit(provider, unlocked):
    return send_message(
        provider,
        unlocked,
        account_key=1,
        mail_from="me@example.test",
        recipients=["friend@outside.example"],
        raw=bytes(plain("me@example.test", "friend@outside.example")),
    )


async def test_a_send_that_went_out_but_lost_its_answer_counts_as_sent(unlocked):
    provider = LosingProvider("lost")

    result = await submit(provider, unlocked)

    assert result.message_id == "draft-1"
    assert provider.deleted == []


async def test_a_send_cut_short_after_it_left_is_kept_and_not_repeated(unlocked):
    provider = LosingProvider("hang")
    sending = asyncio.ensure_future(submit(provider, unlocked))
    await provider.send_started.wait()

    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending

    # The Sent copy stays, and the mail program's retry is not sent again.
    assert provider.deleted == []
    retry = await submit(provider, unlocked)
    assert (retry.message_id, retry.duplicate) == ("draft-1", True)
    assert provider.sends == 1
