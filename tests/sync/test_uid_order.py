"""The first sync gives UIDs oldest first: a higher UID is a later message."""

import random
from datetime import UTC, datetime

from mailsync import events, index, sync
from mailsync.models import (
    Mailbox,
    MailboxEntry,
    Message,
    SyncQueueItem,
    SyncState,
)
from tests.support import corpus_files
from tests.sync.conftest import assert_uids_ascend_with_date, link, uids_by_date

# Where each seeded message goes, in turn.
PLACEMENTS = [
    {},
    {"folder": "Work"},
    {"labels": ["Important"], "starred": True},
    {"location": "archive", "labels": ["Important"]},
]
BASE_TIME = 1_600_000_000
HOUR = 3600


def seed_dated(provider, username: str, dates: list[int]) -> dict[str, int]:
    """One corpus message per date, spread over the placements; id -> date."""
    files = corpus_files()[: len(dates)]
    assert len(files) == len(dates), "the shared corpus is missing"

    seeded = {}
    for number, (path, date) in enumerate(zip(files, dates, strict=True)):
        placement = PLACEMENTS[number % len(PLACEMENTS)]
        (message_id,) = provider.seed(username, eml=[path], date=date, **placement)
        seeded[message_id] = date
    return seeded


def shuffled_dates(count: int, seed: int) -> list[int]:
    # Seeded out of date order, so the provider's insertion order says
    # nothing about the date order.
    offsets = list(range(count))
    random.Random(seed).shuffle(offsets)
    return [BASE_TIME + offset * HOUR for offset in offsets]


def uid_map(account) -> dict[tuple[str, str], int]:
    rows = MailboxEntry.objects.filter(mailbox__account=account).values_list(
        "mailbox__name", "message__provider_id", "uid"
    )
    return {(name, provider_id): uid for name, provider_id, uid in rows}


def test_uids_ascend_with_the_date_in_every_mailbox(owner, provider, monkeypatch):
    # Small chunks and batches: the queue is read and written in many steps.
    monkeypatch.setattr(sync, "QUEUE_CHUNK", 3)
    monkeypatch.setattr(sync, "BATCH_SIZE", 2)
    user = provider.adduser()
    seeded = seed_dated(provider, user.name, shuffled_dates(12, seed=7))

    account = link(owner, user)

    dated = dict(
        Message.objects.filter(account=account).values_list(
            "provider_id", "internal_date"
        )
    )
    assert {key: int(value.timestamp()) for key, value in dated.items()} == seeded

    ordered = uids_by_date(account)
    assert [provider_id for _, provider_id in ordered["All Mail"]] == sorted(
        seeded, key=seeded.__getitem__
    )
    assert sum(1 for keys in ordered.values() if len(keys) >= 3) >= 4
    assert_uids_ascend_with_date(account)
    for box in Mailbox.objects.filter(account=account):
        uids = list(box.entries.order_by("uid").values_list("uid", flat=True))
        assert uids == list(range(1, len(uids) + 1)), box.name

    state = SyncState.objects.get(account=account)
    assert (state.phase, state.done, state.total) == ("done", 12, 12)
    assert not SyncQueueItem.objects.filter(account=account).exists()


def test_messages_of_the_same_second_follow_their_provider_ids(
    owner, provider, monkeypatch
):
    monkeypatch.setattr(sync, "QUEUE_CHUNK", 2)
    user = provider.adduser()
    same = BASE_TIME + 5 * HOUR
    dates = [same, BASE_TIME + 9 * HOUR, same, BASE_TIME, same, same, BASE_TIME]
    seeded = seed_dated(provider, user.name, dates)

    account = link(owner, user)

    in_uid_order = [provider_id for _, provider_id in uids_by_date(account)["All Mail"]]
    expected = sorted(
        seeded, key=lambda provider_id: (seeded[provider_id], provider_id)
    )
    assert in_uid_order == expected
    assert_uids_ascend_with_date(account)


def test_a_sync_stopped_while_listing_goes_on_below_the_cursor(owner, provider):
    user = provider.adduser()
    seeded = seed_dated(provider, user.name, shuffled_dates(8, seed=3))
    account = link(owner, user)
    reference = uid_map(account)

    # As if the first page was listed when the sync died: the listing goes
    # by provider ID, newest first, so it held the three seeded last.
    first_page = list(reversed(seeded))[:3]
    index.reset_index(account)
    SyncState.objects.filter(account=account).update(
        phase=SyncState.Phase.LISTING, cursor=first_page[-1], done=0, total=8
    )
    SyncQueueItem.objects.bulk_create(
        SyncQueueItem(
            account=account,
            provider_id=provider_id,
            time=datetime.fromtimestamp(seeded[provider_id], UTC),
        )
        for provider_id in first_page
    )

    summary = sync.first_sync(account.id)

    assert summary.startswith("synced 8 messages"), summary
    assert Message.objects.filter(account=account).count() == 8
    assert uid_map(account) == reference
    assert_uids_ascend_with_date(account)
    assert not SyncQueueItem.objects.filter(account=account).exists()


def test_an_older_message_arriving_later_gets_the_highest_uid(owner, provider):
    user = provider.adduser()
    seed_dated(provider, user.name, shuffled_dates(4, seed=5))
    account = link(owner, user)

    (late,) = provider.seed(
        user.name, eml=corpus_files()[10:11], date=BASE_TIME - 100 * HOUR
    )
    events.poll_events(account.id)

    inbox = Mailbox.objects.get(account=account, name="INBOX")
    last = inbox.entries.order_by("uid").last()
    assert last is not None
    assert last.message.provider_id == late
    assert last.uid == inbox.entries.count()
