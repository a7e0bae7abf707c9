"""Per-user side streams that ride on every live socket (the notification bell).

The order page and the dashboard each hold a WebSocket already
(``orders.consumers``). News that concerns one *person* rather than one order
(today: their notifications) rides on that socket instead of a second one:
every live consumer also joins the user's group, ``user_group(user_id)``, and
when a doorbell ``{"type": "user.changed"}`` rings there it asks each
registered stream for the user's current state and sends the ones that
changed. Pages without a live socket open ``ws/notifications/``, a consumer
built on the same base that carries only these streams.

This module is plumbing: it names no app. A higher app registers a stream
(``register("notifications", provider)``) in its ``AppConfig.ready``; the
provider is a sync function ``provider(user) -> dict`` returning the message
to send (JSON, with its own ``"type"``). The same design as ``orders.live``:
the doorbell carries no content, the consumer reads the database, so a lost or
repeated doorbell costs nothing (the heartbeat re-reads too).

``ring(user_ids)`` is called after commit by whoever changed a user's state; it
hands the doorbells to one background thread per process with its own event
loop, so the caller never waits for Redis and a Redis hiccup is a logged
warning, never a failed task.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

#: Channel-layer message type of a user doorbell (the consumers' ``user_changed``).
USER_CHANGED = "user.changed"

_providers: dict[str, Callable[[Any], dict[str, Any]]] = {}


def user_group(user_id: int) -> str:
    """The channel-layer group of every live socket of one user."""
    return f"rkh.user.{int(user_id)}"


def register(name: str, provider: Callable[[Any], dict[str, Any]]) -> None:
    """Add a stream (idempotent by name): ``provider(user)`` is the message it sends."""
    _providers[name] = provider


def snapshot(user: Any) -> dict[str, dict[str, Any]]:
    """Every stream's current message for ``user``, by name; sync (call from a thread).

    A stream that fails is left out (logged): a broken side stream must not end
    the order page's live status.
    """
    states: dict[str, dict[str, Any]] = {}
    for name, provider in list(_providers.items()):
        try:
            states[name] = provider(user)
        except Exception:
            log.exception("User stream %s failed", name)
    return states


def changed(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The messages of ``after`` that differ from ``before`` (what to send)."""
    return [message for name, message in after.items() if before.get(name) != message]


class _Ringer:
    """Sends user doorbells from one background thread with a long-lived event loop."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None and self._pid == os.getpid():
                return self._loop
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="rkh-user-doorbells", daemon=True
            )
            thread.start()
            self._loop, self._pid = loop, os.getpid()
            return loop

    def ring(self, user_ids: Iterable[int]) -> asyncio.Future | None:
        ids = sorted({int(i) for i in user_ids})
        if not ids:
            return None
        import concurrent.futures

        future: concurrent.futures.Future = asyncio.run_coroutine_threadsafe(
            self._send(ids), self._ensure_loop()
        )
        return future  # type: ignore[return-value]

    async def _send(self, ids: list[int]) -> None:
        from channels.layers import get_channel_layer

        try:
            layer = get_channel_layer()
            if layer is None:
                return
            for user_id in ids:
                await layer.group_send(user_group(user_id), {"type": USER_CHANGED})
        except Exception:  # Redis away: the consumers re-read on their heartbeat
            log.warning("Could not ring user doorbells", exc_info=True)


_ringer = _Ringer()
os.register_at_fork(after_in_child=_ringer.reset)


def ring(user_ids: Iterable[int], *, wait: float | None = None) -> None:
    """Tell every live socket of these users to look again; ``wait``: seconds to block until
    sent (a task about to exit uses it so the doorbell is not lost with the process)."""
    future = _ringer.ring(user_ids)
    if future is not None and wait:
        try:
            future.result(wait)  # type: ignore[union-attr]
        except Exception:
            log.warning("User doorbells not sent in time", exc_info=True)
