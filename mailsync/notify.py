"""Publishing changes to the channel layer, one group per linked account.

IMAP sessions (in any ``runbridge`` process) and the dashboard's websocket
listen to the group; this module is the only place that sends to it.
"""

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def account_group(account_id: int) -> str:
    return f"account-{account_id}"


async def publish_async(
    account_id: int, message_type: str, payload: dict[str, Any]
) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    try:
        await layer.group_send(
            account_group(account_id), {"type": message_type, **payload}
        )
    except Exception:
        # A notification lost is a delay (clients also poll on NOOP), never a
        # reason to fail the change that was already committed.
        logger.exception(
            "could not publish %s for account %s", message_type, account_id
        )


# On the embedded default the channel layer lives in memory, owned by the event
# loop of ``runbridge``. Worker threads must hand their messages to that loop
# rather than start loops of their own, or the messages would never arrive.
_home_loop: asyncio.AbstractEventLoop | None = None


def set_home_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    global _home_loop
    _home_loop = loop


def publish(account_id: int, message_type: str, payload: dict[str, Any]) -> None:
    """Publish from synchronous code (tasks, the index writer)."""
    coroutine = publish_async(account_id, message_type, payload)
    loop = _home_loop
    if loop is None or not loop.is_running():
        async_to_sync(publish_async)(account_id, message_type, payload)
        coroutine.close()
        return

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None

    if running is loop:
        loop.create_task(coroutine)
    else:
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=10)


def publish_mailboxes_changed(account_id: int, mailbox_ids: list[int]) -> None:
    """Tell IMAP sessions which mailboxes to re-read."""
    if mailbox_ids:
        publish(account_id, "mailbox.changed", {"mailboxes": sorted(set(mailbox_ids))})


def publish_status(account_id: int, status: dict[str, Any]) -> None:
    """Tell dashboards the account's state and sync progress."""
    publish(account_id, "account.status", {"status": {"account": account_id, **status}})
