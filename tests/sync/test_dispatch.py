"""Running tasks in embedded mode: the pool, the scheduler, the shutdown."""

import asyncio

import pytest
from asgiref.sync import async_to_sync

from accounts.models import LinkedAccount
from mailsync import dispatch
from mailsync.models import Message, SyncState
from mailsync.provider.errors import ServerUnavailable
from tests.support import corpus_files
from tests.sync.conftest import link, wait_for_task


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="unknown task"):
        dispatch.run_task("format_disk", 1)


def test_a_task_still_running_is_not_queued_again(owner, provider):
    account = link(owner, provider.adduser())
    provider.fault("/core/v4/events/", method="GET", delay=3)

    first = dispatch.run_task("poll_events", account.id)
    second = dispatch.run_task("poll_events", account.id)

    assert second is first
    assert first.result(timeout=60) == dispatch.NOTHING_NEW


def test_scheduler_polls_ready_accounts_and_resumes_syncs(owner, provider):
    ready_user, syncing_user = provider.adduser(), provider.adduser()
    ready = link(owner, ready_user)
    syncing = link(owner, syncing_user)
    provider.seed(syncing_user.name, eml=corpus_files()[:2])
    SyncState.objects.filter(account=syncing).update(phase="waiting")
    LinkedAccount.objects.filter(id=syncing.id).update(state="syncing")
    delivered = provider.seed(ready_user.name, eml=corpus_files()[2:3])

    futures = dispatch.EmbeddedScheduler(interval=60, jitter=0).tick()
    summaries = sorted(future.result(timeout=120) for future in futures)

    assert len(summaries) == 2
    assert Message.objects.filter(account=ready, provider_id=delivered[0]).exists()
    syncing.refresh_from_db()
    assert syncing.state == LinkedAccount.State.READY
    assert Message.objects.filter(account=syncing).count() == 2


def test_scheduler_waits_longer_after_a_failure(owner, provider, settings):
    settings.BRIDGE_PROVIDER_ATTEMPTS = 1
    account = link(owner, provider.adduser())
    provider.fault("/core/v4/events/", 503)
    scheduler = dispatch.EmbeddedScheduler(interval=60, jitter=0)

    [future] = scheduler.tick()
    with pytest.raises(ServerUnavailable):
        future.result(timeout=60)

    assert scheduler.tick() == []
    assert scheduler._failures[("poll_events", account.id)] == 1


def test_shutdown_stops_a_sync_between_two_writes(owner, provider):
    user = provider.adduser()
    provider.seed(user.name, eml=corpus_files()[:30])
    provider.fault(r"/mail/v4/messages/[^/]+$", method="GET", delay=0.2)

    async def start_then_stop() -> str:
        runtime = await dispatch.start_embedded_runtime()
        future = await asyncio.to_thread(start_link, owner, user)
        await asyncio.sleep(0)
        await runtime.stop()
        return future.result(timeout=5)

    summary = async_to_sync(start_then_stop)()

    assert summary == "stopped for the shutdown; resumes at the next start"
    state = SyncState.objects.get(account__owner=owner)
    assert state.phase != "done"
    assert state.lease_owner == ""
    account = LinkedAccount.objects.get(owner=owner)
    assert account.state == LinkedAccount.State.SYNCING

    provider.clear_faults()
    dispatch.run_task("first_sync", account.id)
    wait_for_task("first_sync", account.id)
    assert Message.objects.filter(account=account).count() == 30


def start_link(owner, user):
    from accounts import linking

    progress = linking.start_link(owner, user.name, user.password)
    return dispatch.running_future("first_sync", progress.account.id)


def test_scheduler_drops_expired_pending_logins(owner, transactional_db):
    from datetime import timedelta

    from django.utils import timezone

    from mailsync.models import PendingLink

    PendingLink.objects.create(
        owner=owner,
        username="late",
        step="two_factor",
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    PendingLink.objects.create(owner=owner, username="fresh", step="two_factor")

    dispatch.EmbeddedScheduler(interval=60, jitter=0).tick()

    assert list(PendingLink.objects.values_list("username", flat=True)) == ["fresh"]
