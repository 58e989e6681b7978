"""A first sync killed with SIGKILL resumes with nothing missed, doubled or
renumbered, and its UIDs still ascend with the message date."""

import signal
import subprocess
import sys
import time

import pytest

from accounts.models import LinkedAccount
from mailsync import index
from mailsync.models import MailboxEntry, Message, SyncQueueItem, SyncState
from tests.support import REPO_ROOT, bridge_process_env, corpus_files
from tests.sync.conftest import assert_uids_ascend_with_date, link

MESSAGES = 60
# The kill comes once this many messages are written.
KILL_AFTER = 15
WAIT_LIMIT_SECONDS = 240


def uid_map(account) -> dict[tuple[str, str], int]:
    rows = MailboxEntry.objects.filter(mailbox__account=account).values_list(
        "mailbox__name", "message__provider_id", "uid"
    )
    return {(name, provider_id): uid for name, provider_id, uid in rows}


def start_over(account) -> None:
    """Forget the index as a provider refresh does, so the sync runs again."""
    index.reset_index(account)
    SyncState.objects.filter(account=account).update(
        phase=SyncState.Phase.WAITING, cursor="", done=0, total=0, last_event_id=""
    )
    LinkedAccount.objects.filter(id=account.id).update(
        state=LinkedAccount.State.SYNCING
    )


def sync_command(account) -> list[str]:
    return [sys.executable, "manage.py", "syncaccount", str(account.id)]


def child_env(provider) -> dict[str, str]:
    return bridge_process_env(
        BRIDGE_PROVIDER_URL=provider.base_url,
        BRIDGE_PROVIDER_MODULUS_KEY=provider.modulus_pubkey,
        BRIDGE_APP_VERSION=provider.app_version,
        BRIDGE_SYNC_CONCURRENCY="2",
    )


def wait_until_written(account, count: int, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while time.monotonic() < deadline:
        done = SyncState.objects.get(account=account).done
        if done >= count:
            return done
        if process.poll() is not None:
            pytest.fail(f"the sync process ended early ({process.returncode})")
        time.sleep(0.05)
    pytest.fail(f"the sync did not write {count} messages in time")


@pytest.mark.slow
def test_killed_sync_resumes_without_loss_duplicates_or_new_uids(owner, provider):
    user = provider.adduser()
    files = corpus_files()[:MESSAGES]
    provider.seed(user.name, eml=files[:30])
    provider.seed(user.name, eml=files[30:45], folder="Work/Projects")
    provider.seed(user.name, eml=files[45:], labels=["Important"], starred=True)
    account = link(owner, user)
    reference = uid_map(account)
    assert len({provider_id for _, provider_id in reference}) == MESSAGES

    start_over(account)
    # Slow downloads down so the kill lands in the middle of the messages.
    provider.fault(r"/mail/v4/messages/[^/]+$", method="GET", delay=0.1)
    process = subprocess.Popen(
        sync_command(account),
        cwd=REPO_ROOT,
        env=child_env(provider),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_written(account, KILL_AFTER, process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)

    at_kill = uid_map(account)
    state = SyncState.objects.get(account=account)
    assert KILL_AFTER <= state.done < MESSAGES
    assert state.lease_owner, "the killed process still holds the lease"
    # Written so far: the oldest messages; everything else still queued.
    written = dict(
        Message.objects.filter(account=account).values_list(
            "provider_id", "internal_date"
        )
    )
    queued = dict(
        SyncQueueItem.objects.filter(account=account).values_list("provider_id", "time")
    )
    assert len(written) == state.done
    assert not written.keys() & queued.keys()
    assert len(written) + len(queued) == MESSAGES
    newest_written = max((date, key) for key, date in written.items())
    oldest_queued = min((date, key) for key, date in queued.items())
    assert newest_written < oldest_queued

    provider.clear_faults()
    finished = subprocess.run(
        sync_command(account),
        cwd=REPO_ROOT,
        env=child_env(provider),
        capture_output=True,
        text=True,
        timeout=WAIT_LIMIT_SECONDS,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]

    account.refresh_from_db()
    assert account.state == LinkedAccount.State.READY
    assert Message.objects.filter(account=account).count() == MESSAGES
    final = uid_map(account)
    assert {key: final[key] for key in at_kill} == at_kill
    assert final == reference
    assert_uids_ascend_with_date(account)
    assert not SyncQueueItem.objects.filter(account=account).exists()
