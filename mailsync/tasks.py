"""Celery tasks of growth mode; the embedded mode runs the same bodies.

Each task takes an account id, is idempotent (the sync resumes from its
cursor, a poll from the stored event id, both under a lease) and returns a
one-line summary. Only transient provider failures (429, 5xx, network)
are retried, with exponential backoff.
"""

import logging
import random

from celery import shared_task
from django.conf import settings

from accounts.models import LinkedAccount
from mailsync import events, sync
from mailsync.dispatch import purge_expired_links
from mailsync.provider.errors import ProviderError

logger = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 15 * 60


def _backoff(retries: int, retry_after: float | None = None) -> float:
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**retries)
    delay *= random.uniform(0.75, 1.25)
    return max(delay, retry_after or 0)


def _run_with_retry(task, body, account_id: int) -> str:
    try:
        return body(account_id)
    except ProviderError as exc:
        if not exc.transient:
            raise
        countdown = _backoff(task.request.retries, getattr(exc, "retry_after", None))
        logger.warning(
            "%s for account %s failed for now (%r); retry in %.0f s",
            task.name,
            account_id,
            exc,
            countdown,
        )
        raise task.retry(exc=exc, countdown=countdown) from exc


@shared_task(bind=True, name="mailsync.first_sync", max_retries=None)
def first_sync(self, account_id: int) -> str:
    return _run_with_retry(self, sync.first_sync, account_id)


@shared_task(bind=True, name="mailsync.poll_events", max_retries=8)
def poll_events(self, account_id: int) -> str:
    return _run_with_retry(self, events.poll_events, account_id)


@shared_task(name="mailsync.poll_all_accounts")
def poll_all_accounts() -> str:
    """Fan out one poll per ready account, spread over the jitter."""
    purge_expired_links()
    ids = list(
        LinkedAccount.objects.filter(state=LinkedAccount.State.READY).values_list(
            "id", flat=True
        )
    )
    for account_id in ids:
        poll_events.apply_async(
            (account_id,), countdown=random.uniform(0, settings.BRIDGE_EVENT_JITTER)
        )
    return f"queued event polls for {len(ids)} accounts"


@shared_task(name="mailsync.resume_syncs")
def resume_syncs() -> str:
    """Queue the first sync of every account still syncing (lease decides)."""
    ids = list(
        LinkedAccount.objects.filter(state=LinkedAccount.State.SYNCING).values_list(
            "id", flat=True
        )
    )
    for account_id in ids:
        first_sync.delay(account_id)
    return f"queued {len(ids)} unfinished syncs"
