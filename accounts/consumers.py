"""The dashboard's live-status websocket, and the status each row shows.

A status is a small JSON object per linked account::

    {"account": 7, "state": "syncing", "state_label": "Syncing",
     "last_error": "", "phase": "messages", "done": 120, "total": 500,
     "messages": 120, "last_event_at": "2026-01-02T03:04:05+00:00"}

Publishers (:func:`mailsync.notify.publish_status`) may send only the keys
that changed; the consumer lays them over a fresh snapshot from the database,
so every message the browser gets is a complete row.
"""

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db.models import Count

from accounts.models import LinkedAccount
from mailsync.notify import account_group

logger = logging.getLogger(__name__)

# Sent by close() before accept(): the handshake is refused.
CLOSE_UNAUTHENTICATED = 4401


def accounts_with_status():
    """A queryset ready for :func:`status_snapshot` without extra queries."""
    return LinkedAccount.objects.select_related("sync_state").annotate(
        message_count=Count("messages", distinct=True)
    )


def status_snapshot(account: LinkedAccount) -> dict[str, Any]:
    """The full status row of one account, as the dashboard shows it."""
    sync = getattr(account, "sync_state", None)
    message_count = getattr(account, "message_count", None)
    if message_count is None:
        message_count = account.messages.count()

    status = {
        "account": account.pk,
        "state": account.state,
        "state_label": account.get_state_display(),
        "last_error": account.last_error,
        "phase": sync.phase if sync else "",
        "done": sync.done if sync else 0,
        "total": sync.total if sync else 0,
        "messages": message_count,
        "last_event_at": (
            account.last_event_at.isoformat() if account.last_event_at else None
        ),
    }
    return describe_progress(status)


PHASE_TEXT = {
    "waiting": "Waiting to start",
    "labels": "Reading folders and labels",
    "counting": "Counting messages",
    "listing": "Listing messages",
}


def describe_progress(status: dict[str, Any]) -> dict[str, Any]:
    """Add ``percent`` and ``progress_text``, the words under the bar."""
    done, total = int(status.get("done") or 0), int(status.get("total") or 0)
    if total:
        percent = min(100, done * 100 // total)
    else:
        percent = 100 if status.get("phase") == "done" else 0

    # Listing sets the total before any message is done: name the phase.
    if status.get("phase") in PHASE_TEXT and (not total or not done):
        text = PHASE_TEXT[status["phase"]]
    elif total:
        text = f"{done} of {total} messages ({percent}%)"
    else:
        text = ""
    return {**status, "percent": percent, "progress_text": text}


def merge_published(snapshot: dict[str, Any], published: dict[str, Any]) -> dict:
    """Lay a published (possibly partial) status over a snapshot."""
    merged = {**snapshot, **published}
    if "state" in published:
        labels = dict(LinkedAccount.State.choices)
        merged["state_label"] = labels.get(published["state"], published["state"])
    return describe_progress(merged)


class StatusConsumer(AsyncJsonWebsocketConsumer):
    """Forward sync progress and state changes of the person's own accounts."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return

        snapshots = await self._own_snapshots(user)
        self.account_ids = {snapshot["account"] for snapshot in snapshots}
        for account_id in self.account_ids:
            await self.channel_layer.group_add(
                account_group(account_id), self.channel_name
            )
        await self.accept()

        # A reconnecting page missed whatever happened while it was away.
        for snapshot in snapshots:
            await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        for account_id in getattr(self, "account_ids", set()):
            await self.channel_layer.group_discard(
                account_group(account_id), self.channel_name
            )

    async def account_status(self, event: dict) -> None:
        published = event.get("status") or {}
        account_id = published.get("account")
        if account_id not in self.account_ids:
            return

        snapshot = await self._snapshot(account_id)
        if snapshot is None:
            await self.send_json({"account": account_id, "removed": True})
            return
        await self.send_json(merge_published(snapshot, published))

    async def mailbox_changed(self, event: dict) -> None:
        # IMAP sessions care about these; the dashboard only needs counts,
        # which arrive with the next status message.
        return

    @database_sync_to_async
    def _own_snapshots(self, user) -> list[dict[str, Any]]:
        accounts = accounts_with_status().filter(owner=user)
        return [status_snapshot(account) for account in accounts]

    @database_sync_to_async
    def _snapshot(self, account_id: int) -> dict[str, Any] | None:
        account = accounts_with_status().filter(pk=account_id).first()
        return status_snapshot(account) if account else None
