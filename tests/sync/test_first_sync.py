"""The first sync against the reference provider: the index mirrors it."""

import pytest
from asgiref.sync import async_to_sync

from accounts.models import Activity, LinkedAccount
from mailsync import cache, sync
from mailsync.models import (
    EventFailure,
    Mailbox,
    MailboxEntry,
    Message,
    SyncState,
)
from mailsync.session import open_session
from mailsync.structure import normalize_crlf
from tests.support import corpus_files
from tests.sync.conftest import link

# How the corpus is spread over the account: (seed options, how many files).
PLACEMENTS = [
    ({}, 30),
    ({"folder": "Work", "unread": False}, 20),
    ({"folder": "Work/Projects", "mode": "web"}, 20),
    ({"labels": ["Important"], "starred": True}, 20),
    ({"location": "spam"}, 10),
    ({"location": "trash", "unread": False}, 10),
    ({"location": "archive", "labels": ["Important", "Later"]}, 20),
    ({"location": "sent", "unread": False}, 15),
    ({"location": "drafts", "unread": False}, 5),
    ({"mode": "web", "starred": True, "labels": ["Later"]}, None),
]


async def provider_view(account_id: int, label_ids: list[str]):
    """Per label: the provider's message IDs; and every message's metadata."""
    listed: dict[str, set[str]] = {}
    metadata = {}
    async with open_session(account_id) as session:
        for label_id in label_ids:
            listed[label_id] = set()
            page = 0
            while True:
                messages, _ = await session.client.list_messages(
                    label_id=label_id, page=page, page_size=150
                )
                if not messages:
                    break
                for message in messages:
                    listed[label_id].add(message.id)
                    metadata[message.id] = message
                page += 1
    return listed, metadata


async def client_bytes(account_id: int, message_ids: list[str]) -> dict[str, bytes]:
    """What the provider client builds for each message, apart from the sync."""
    built = {}
    async with open_session(account_id) as session:
        unlocked = await session.unlocked()
        for message_id in message_ids:
            _, raw = await session.client.fetch_rfc822(unlocked, message_id)
            built[message_id] = raw
    return built


@pytest.fixture
def corpus_account(owner, provider):
    user = provider.adduser()
    files = corpus_files()
    assert files, "the shared corpus is missing"

    originals = {}
    start = 0
    for options, count in PLACEMENTS:
        chunk = files[start : start + count] if count else files[start:]
        start += len(chunk)
        ids = provider.seed(user.name, eml=chunk, **options)
        if options.get("mode", "import") == "import":
            originals.update(
                {message_id: path for message_id, path in zip(ids, chunk, strict=True)}
            )

    account = link(owner, user)
    return account, len(files), originals


@pytest.mark.slow
def test_first_sync_mirrors_the_provider(corpus_account):
    account, total, originals = corpus_account
    assert account.state == LinkedAccount.State.READY, account.last_error
    assert not EventFailure.objects.filter(account=account).exists()

    boxes = Mailbox.objects.filter(account=account).exclude(
        kind=Mailbox.Kind.PLACEHOLDER
    )
    listed, metadata = async_to_sync(provider_view)(
        account.id, [box.label_id for box in boxes]
    )
    assert len(metadata) == total

    for box in boxes:
        indexed = set(
            MailboxEntry.objects.filter(mailbox=box).values_list(
                "message__provider_id", flat=True
            )
        )
        assert indexed == listed[box.label_id], box.name

    messages = Message.objects.filter(account=account)
    assert messages.count() == total
    built = async_to_sync(client_bytes)(account.id, list(metadata))
    for message in messages:
        provider_message = metadata[message.provider_id]
        stored = cache.read_message(message)
        assert message.unread == provider_message.unread
        assert message.starred == provider_message.starred
        assert message.size == len(stored)
        assert stored == built[message.provider_id]
        if message.provider_id in originals:
            original = originals[message.provider_id].read_bytes()
            assert stored == normalize_crlf(original)


def test_progress_is_stored_and_recorded(owner, provider):
    user = provider.adduser()
    provider.seed(user.name, eml=corpus_files()[:6])

    account = link(owner, user)

    state = SyncState.objects.get(account=account)
    assert (state.phase, state.done, state.total) == ("done", 6, 6)
    assert state.last_event_id
    assert state.lease_owner == ""
    texts = list(
        Activity.objects.filter(account=account).values_list("text", flat=True)
    )
    assert "First sync finished: 6 messages" in texts


def test_a_held_lease_keeps_a_second_sync_out(owner, provider):
    user = provider.adduser()
    account = link(owner, user)
    SyncState.objects.filter(account=account).update(phase="waiting")
    assert sync.acquire_lease(account.id, "elsewhere:1:busy")

    summary = sync.first_sync(account.id)

    assert summary == "another process is syncing this account"
    assert SyncState.objects.get(account=account).phase == "waiting"


def test_a_failing_provider_pauses_the_sync_and_a_rerun_finishes(
    owner, provider, settings
):
    settings.BRIDGE_PROVIDER_ATTEMPTS = 2
    settings.BRIDGE_PROVIDER_BACKOFF = 0.01
    user = provider.adduser()
    provider.seed(user.name, eml=corpus_files()[:12])
    provider.fault(r"/mail/v4/messages/[^/]+$", 503, method="GET")

    progress_account = link_without_waiting(owner, user)
    with pytest.raises(Exception, match="503|unavailable|Service"):
        wait_sync(progress_account.id)

    account = LinkedAccount.objects.get(id=progress_account.id)
    assert account.state == LinkedAccount.State.SYNCING
    assert "resumes by itself" in account.last_error

    provider.clear_faults()
    sync.first_sync(account.id)

    account.refresh_from_db()
    assert account.state == LinkedAccount.State.READY
    assert account.last_error == ""
    assert Message.objects.filter(account=account).count() == 12


def test_a_revoked_session_during_the_sync_asks_for_a_new_login(owner, provider):
    user = provider.adduser()
    provider.seed(user.name, eml=corpus_files()[:3])
    account = link_without_waiting(owner, user)
    wait_sync(account.id)
    SyncState.objects.filter(account=account).update(phase="waiting")
    provider.internal("POST", f"users/{user.name}/revoke")

    summary = sync.first_sync(account.id)

    account.refresh_from_db()
    assert "needs a new login" in summary
    assert account.state == LinkedAccount.State.NEEDS_LOGIN
    assert "Log in again" in account.last_error
    assert account.refresh_token == ""


def link_without_waiting(owner, provider_user) -> LinkedAccount:
    from accounts import linking

    progress = linking.start_link(owner, provider_user.name, provider_user.password)
    return progress.account


def wait_sync(account_id: int) -> str | None:
    from tests.sync.conftest import wait_for_task

    return wait_for_task("first_sync", account_id)


def test_a_message_the_provider_refuses_is_recorded_and_the_rest_synced(
    owner, provider
):
    user = provider.adduser()
    ids = provider.seed(user.name, eml=corpus_files()[:5])
    provider.fault(f"/mail/v4/messages/{ids[2]}", 422, method="GET")

    account = link(owner, user)

    assert account.state == LinkedAccount.State.READY
    assert Message.objects.filter(account=account).count() == 4
    failure = EventFailure.objects.get(account=account)
    assert failure.message_ids == [ids[2]]

    provider.clear_faults()
    from mailsync import events

    events.poll_events(account.id)
    assert Message.objects.filter(account=account).count() == 5
