"""The dashboard's live-status websocket."""

import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from mailsync.notify import account_group

logger = logging.getLogger(__name__)


class StatusConsumer(AsyncJsonWebsocketConsumer):
    """Forward sync progress and state changes of the person's own accounts."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return

        self.groups_joined = await self._own_account_groups(user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    @database_sync_to_async
    def _own_account_groups(self, user) -> list[str]:
        ids = user.linked_accounts.values_list("id", flat=True)
        return [account_group(account_id) for account_id in ids]

    async def account_status(self, event: dict) -> None:
        await self.send_json(event["status"])

    async def mailbox_changed(self, event: dict) -> None:
        # IMAP sessions care about these; the dashboard only needs counts,
        # which arrive with the next status message.
        return
