"""``ws/notifications/``: the bell's own socket, for pages that have no live socket.

The order page and the dashboard carry the bell on their own sockets (every
``orders.consumers`` consumer joins the user's group, ``utilities.user_streams``);
every other page opens this one, built on the same base: the same sign-in
check (4401), heartbeat, access re-check and reconnect behaviour in the page.
It sends the user's side streams at once (``{"type": "notifications", ...}``),
then whenever they change.
"""

from __future__ import annotations

from typing import Any

from orders.consumers import LiveConsumer
from utilities import user_streams


class NotificationConsumer(LiveConsumer):
    async def connect(self) -> None:
        user = await self._authenticate()
        if user is None:
            return
        self.group = user_streams.user_group(user.pk)
        await self._join_and_start()

    def _interval(self) -> float:
        return 0.0

    async def _recheck_access(self) -> bool:
        return True  # a signed-in user may always see their own notifications

    async def _flush(self, *, first: bool = False) -> None:
        """First: everything the streams hold (the page needs a first message to count
        the socket as working); later changes go through ``user_changed``."""
        if first:
            for message in self._user_state.values():
                await self.send_json(message)

    def _heartbeat_message(self) -> dict[str, Any]:
        return {"type": "heartbeat"}
