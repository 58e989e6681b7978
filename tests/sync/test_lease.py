"""The sync lease: one worker per account, taken over from dead holders."""

import os
import socket
import subprocess
import sys
from datetime import timedelta

from django.utils import timezone

from mailsync import sync
from mailsync.models import SyncState


def test_second_owner_is_refused_while_the_lease_lives(account):
    assert sync.acquire_lease(account.id, "worker-a")
    assert not sync.acquire_lease(account.id, "worker-b")
    assert sync.acquire_lease(account.id, "worker-a")


def test_released_lease_can_be_taken(account):
    sync.acquire_lease(account.id, "worker-a")
    sync.release_lease(account.id, "worker-a")
    assert sync.acquire_lease(account.id, "worker-b")


def test_expired_lease_can_be_taken(account):
    sync.acquire_lease(account.id, "worker-a")
    SyncState.objects.filter(account=account).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert sync.acquire_lease(account.id, "worker-b")


def test_lease_of_a_dead_process_on_this_host_is_taken_at_once(account):
    dead_pid = _pid_of_finished_process()
    holder = f"{socket.gethostname()}:{dead_pid}:abcd"
    sync.acquire_lease(account.id, holder)

    assert sync.acquire_lease(account.id, "worker-b")


def test_lease_of_a_live_process_on_another_host_is_respected(account):
    sync.acquire_lease(account.id, f"elsewhere:{os.getpid()}:abcd")
    assert not sync.acquire_lease(account.id, "worker-b")


def test_renewal_fails_once_taken_over(account):
    sync.acquire_lease(account.id, "worker-a")
    SyncState.objects.filter(account=account).update(lease_owner="worker-b")
    assert not sync.renew_lease(account.id, "worker-a")


def _pid_of_finished_process() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
