"""WebSocket consumers of live status: one order's timeline, and the dashboard.

``ws/orders/<order_ref>/?after=<seq>`` streams the order's ``OrderEvent``s
with ``seq > after`` (everything first, from the database, then live), and
``ws/dashboard/`` streams snapshots of what the user's dashboard shows. The
protocol is in docs/live.md; why the channel layer only carries doorbells is
in ``orders.live``.

Both consumers:

- refuse the handshake (close before accept) unless the user is signed in
  (session, or ``Authorization: Api-Key`` through ``accounts.ws_auth``): code
  4401; and unless the access rule lets them see the order (any order, for
  the dashboard): 4403, also for an order that does not exist, so existence
  does not leak. Origins are checked before (``AllowedHostsOriginValidator``).
- join their group *before* reading the database, so no commit falls between
  the catch-up read and the live stream;
- read and send from one flusher task at most once per interval, so doorbells
  are drained from the channel layer as fast as they come (a full channel
  drops messages) while the browser gets bounded messages;
- every heartbeat, ask again who the credential names (a signed-out session, a
  changed password, a revoked key end the stream with 4401), reload the user
  (a removed role ends it with 4403), re-check the database (repairs a lost
  doorbell) and send ``{"type": "heartbeat"}``;
- also carry the user's side streams (``utilities.user_streams``: the notification
  bell): they join the user's group and send a stream's message when it changes.

Every database access runs through ``database_sync_to_async``; nothing here
touches the ORM on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth import get_user_model
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.ws_auth import current_user_id
from utilities import access, user_streams

from . import live, timeline
from .models import Order

log = logging.getLogger(__name__)

#: Close codes (4000-4999 are the application's). Sent before accept they
#: reach a browser as a failed handshake; the live script then tries polling,
#: whose HTTP answer (401/403/404) says why.
CLOSE_BAD_REQUEST = 4400
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_GONE = 4404
#: The channel layer (Redis) went away: the browser reconnects, as after any non-final close.
CLOSE_SERVICE_RESTART = 1012
#: Largest ``after`` accepted (seq is a positive 32-bit integer column).
MAX_SEQ = 2**31 - 1


def _fresh_user(user_id: int) -> Any | None:
    """The user as the database has them now (None if deactivated); sync.

    A new object each heartbeat, so roles changed meanwhile are seen: Django
    caches permissions on the user object for its lifetime.
    """
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


class _LiveConsumer(AsyncJsonWebsocketConsumer):
    """Shared machinery: authentication, the coalescing flusher, the heartbeat."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = ""
        self.user: Any = None
        self._tasks: list[asyncio.Task] = []
        self._flusher: asyncio.Task | None = None
        self._dirty = False
        self._last_flush = 0.0
        self._send_lock = asyncio.Lock()
        self._closed = False
        self._user_group = ""
        self._user_state: dict[str, dict[str, Any]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The stream, ended cleanly when Redis (the channel layer) goes away: the browser
        gets 1012 ("service restart") and reconnects, as it would after any close, and the
        log gets one line instead of an "Exception in ASGI application" traceback. A
        handshake while Redis is away is refused the same way (close before accept).

        However the stream ends, its heartbeat and flusher end with it: ended by an error,
        no ``disconnect`` runs, and they would go on reading the database for a socket that
        is gone (seen in a walkthrough: a failed send logged per stream, 20 s after Redis
        was killed)."""
        try:
            await super().__call__(scope, receive, send)
        except RedisConnectionError as exc:
            log.warning("Live stream closed: the channel layer is away (%s)", exc)
            with contextlib.suppress(Exception):  # the socket may be gone as well
                await send({"type": "websocket.close", "code": CLOSE_SERVICE_RESTART})
        finally:
            self._stop_tasks()

    def _stop_tasks(self) -> None:
        self._closed = True
        for task in [*self._tasks, self._flusher]:
            if task is not None and not task.done():
                task.cancel()

    def _interval(self) -> float:
        raise NotImplementedError

    async def _flush(self, *, first: bool = False) -> None:
        """Read the database and send what the client has not seen (subclasses)."""
        raise NotImplementedError

    async def _recheck_access(self) -> bool:
        """Whether the reloaded user may still watch (subclasses)."""
        raise NotImplementedError

    # --- connection ----------------------------------------------------------------

    async def _authenticate(self) -> Any | None:
        """The signed-in user, fresh from the database; None (and closed 4401) if nobody."""
        scope_user = self.scope.get("user")
        user = None
        if scope_user is not None and scope_user.is_authenticated:
            user = await database_sync_to_async(_fresh_user)(scope_user.pk)
        if user is None:
            await self._close(CLOSE_NOT_AUTHENTICATED)
        self.user = user
        return user

    async def _join_and_start(self) -> None:
        """Join the group (before any read: see module docstring), accept, send, tick."""
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._join_user_streams()
        await self.accept()
        async with self._send_lock:
            await self._flush(first=True)
        self._last_flush = time.monotonic()
        if not self._closed:
            self._tasks.append(asyncio.create_task(self._heartbeat()))

    async def disconnect(self, code: int) -> None:
        self._stop_tasks()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self._user_group:
            await self.channel_layer.group_discard(self._user_group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kw):
        """Clients have nothing to say after connecting; what they send is ignored
        (not even parsed: a malformed frame must not end the stream)."""

    async def _close(self, code: int) -> None:
        self._closed = True
        await self.close(code=code)

    # --- coalescing ------------------------------------------------------------------

    def _wake(self) -> None:
        """A doorbell rang: make sure a read happens *after* now, at most one per interval.

        Only a flag and, if none runs, a task: the consumer goes straight back
        to draining its channel. A read already running may have begun before
        this commit, so ``_dirty`` makes the flusher go round once more.
        """
        self._dirty = True
        if self._closed:
            return
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        try:
            while self._dirty and not self._closed:
                wait = self._last_flush + self._interval() - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._dirty = False
                self._last_flush = time.monotonic()
                async with self._send_lock:
                    await self._flush()
        except asyncio.CancelledError:
            raise
        except Exception:
            # The database or the socket failed: close, the client reconnects and catches up.
            log.exception("Live flush failed; closing %s", self.channel_name)
            await self._close(1011)

    async def _heartbeat(self) -> None:
        try:
            while not self._closed:
                await asyncio.sleep(live.heartbeat_interval())
                user_id = await database_sync_to_async(current_user_id)(self.scope)
                user = None
                if user_id == self.user.pk:
                    user = await database_sync_to_async(_fresh_user)(user_id)
                if user is None:
                    await self._close(CLOSE_NOT_AUTHENTICATED)
                    return
                self.user = user
                if not await self._recheck_access():
                    await self._close(CLOSE_FORBIDDEN)
                    return
                # Renew the membership: channels-redis forgets members after
                # ``group_expiry`` (a day), and a tab may stay open longer.
                await self.channel_layer.group_add(self.group, self.channel_name)
                await self.channel_layer.group_add(self._user_group, self.channel_name)
                async with self._send_lock:
                    await self._flush()
                    await self._send_user_streams()
                    await self.send_json(self._heartbeat_message())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Live heartbeat failed; closing %s", self.channel_name)
            await self._close(1011)

    def _heartbeat_message(self) -> dict[str, Any]:
        return {"type": "heartbeat"}

    # --- the user's side streams (utilities.user_streams) ------------------------------

    async def _join_user_streams(self) -> None:
        """Join the user's group (before reading, as for the main group) and note what the
        streams hold now: the page was rendered with that, so only changes are sent."""
        self._user_group = user_streams.user_group(self.user.pk)
        await self.channel_layer.group_add(self._user_group, self.channel_name)
        self._user_state = await database_sync_to_async(user_streams.snapshot)(self.user)

    async def user_changed(self, message: dict[str, Any]) -> None:
        """Doorbell of ``utilities.user_streams``: send the side streams that changed."""
        if self._closed:
            return
        async with self._send_lock:
            await self._send_user_streams()

    async def _send_user_streams(self) -> None:
        state = await database_sync_to_async(user_streams.snapshot)(self.user)
        for message in user_streams.changed(self._user_state, state):
            await self.send_json(message)
        self._user_state = state


#: The base for other apps' live consumers (``notifications.consumers``).
LiveConsumer = _LiveConsumer


class OrderConsumer(_LiveConsumer):
    """``ws/orders/<order_ref>/?after=<seq>``: one order's timeline, caught up, then live.

    Messages (JSON):
    ``{"type": "events", "order": {...}, "events": [...], "more": bool}``, the
    first sent at once on connect (its ``events`` may be empty), then whenever
    something new was committed; ``{"type": "heartbeat", "last_seq": n}``.
    ``events`` are consecutive, oldest first, each number exactly once.
    """

    async def connect(self) -> None:
        user = await self._authenticate()
        if user is None:
            return
        after = _after_param(self.scope)
        if after is None:
            await self._close(CLOSE_BAD_REQUEST)
            return
        ref = self.scope["url_route"]["kwargs"]["order_ref"]
        order_id = await database_sync_to_async(_visible_order_id)(user, ref)
        if order_id is None:
            await self._close(CLOSE_FORBIDDEN)
            return
        self.order_id = order_id
        self.cursor = after  # the last seq this client has (been sent)
        self._last_state: dict[str, Any] | None = None
        self.group = live.order_group(order_id)
        await self._join_and_start()

    async def order_changed(self, message: dict[str, Any]) -> None:
        """Doorbell from ``orders.live``: something after ``message["seq"]`` may be new."""
        self._wake()

    def _interval(self) -> float:
        return live.flush_interval()

    async def _recheck_access(self) -> bool:
        return True  # _flush re-checks against the order row it reads anyway

    def _heartbeat_message(self) -> dict[str, Any]:
        return {"type": "heartbeat", "last_seq": self.cursor}

    async def _flush(self, *, first: bool = False) -> None:
        """Send every event after the cursor (in chunks), with the order's state read after.

        Each round reads the events, then the order row: the state is never
        older than the events it comes with, and the access rule is applied to
        the row as it is now (an unassigned user stops receiving).
        """
        while not self._closed:
            result = await database_sync_to_async(_read_order)(
                self.user, self.order_id, self.cursor
            )
            if result == "gone":
                await self._close(CLOSE_GONE)
                return
            if result == "forbidden":
                await self._close(CLOSE_FORBIDDEN)
                return
            events, more, state = result
            if not (first or events or state != self._last_state):
                return
            await self.send_json({"type": "events", "order": state, "events": events, "more": more})
            first = False
            self._last_state = state
            if events:
                self.cursor = events[-1]["seq"]
            if not more:
                return


class DashboardConsumer(_LiveConsumer):
    """``ws/dashboard/``: snapshots of the user's dashboard, sent when they change.

    Messages: ``{"type": "dashboard", "counters", "total", "open_count",
    "orders", "activity"}`` (see ``live.dashboard_snapshot``), the first at
    once, then at most one per ``LIVE_DASHBOARD_MS`` and only when something
    the user may see changed; ``{"type": "heartbeat"}``.
    """

    async def connect(self) -> None:
        user = await self._authenticate()
        if user is None:
            return
        if not await database_sync_to_async(_sees_any_order)(user):
            await self._close(CLOSE_FORBIDDEN)
            return
        self.group = live.DASHBOARD_GROUP
        self._touched: set[int] = set()
        self._shown_ids: frozenset[int] = frozenset()
        self._last_snapshot: dict[str, Any] | None = None
        await self._join_and_start()

    async def orders_changed(self, message: dict[str, Any]) -> None:
        """Doorbell: these orders have news. Whether the user may see them is decided
        at the next read, through the access rule."""
        self._touched.update(int(order_id) for order_id, _seq in message.get("orders", []))
        self._wake()

    def _interval(self) -> float:
        return live.dashboard_interval()

    async def _recheck_access(self) -> bool:
        return await database_sync_to_async(_sees_any_order)(self.user)

    async def _flush(self, *, first: bool = False) -> None:
        touched, self._touched = self._touched, set()
        if not first and touched and self._last_snapshot is not None:
            relevant = await database_sync_to_async(_any_visible)(
                self.user, touched, self._shown_ids
            )
            if not relevant:
                return
        shown: set[int] = set()
        snapshot = await database_sync_to_async(live.dashboard_snapshot)(self.user, shown)
        if snapshot == self._last_snapshot:
            return
        await self.send_json(snapshot)
        self._last_snapshot, self._shown_ids = snapshot, frozenset(shown)


# --- reads (sync, called through database_sync_to_async) -----------------------------------


def _after_param(scope: dict[str, Any]) -> int | None:
    """``?after=<seq>`` of the connection URL: 0 when absent, None when not a number."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("after")
    if not values:
        return 0
    raw = values[0]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > MAX_SEQ:
        return None
    return int(raw)


def _visible_order_id(user: Any, order_ref: str) -> int | None:
    return (
        Order.objects.restrict(user, access.Action.VIEW)
        .filter(order_ref=order_ref)
        .values_list("pk", flat=True)
        .first()
    )


def _read_order(
    user: Any, order_id: int, cursor: int
) -> tuple[list[dict[str, Any]], bool, dict[str, Any]] | str:
    """Events after ``cursor``, whether more follow, and the order's state; or why not."""
    events, more = timeline.entries_after(order_id, cursor, limit=live.MAX_EVENTS_PER_MESSAGE)
    order = live.state_queryset().filter(pk=order_id).first()
    if order is None:
        return "gone"
    if not access.can(user, access.Action.VIEW, order):
        return "forbidden"
    return [timeline.entry_json(e) for e in events], more, live.order_state(order)


def _sees_any_order(user: Any) -> bool:
    return access.order_scope(user, access.Action.VIEW) is not None


def _any_visible(user: Any, order_ids: set[int], shown: frozenset[int]) -> bool:
    """Does any of these orders concern the user's dashboard: shown on it now (it may
    have left their view), or visible to them (the access rule decides)?"""
    if order_ids & shown:
        return True
    return Order.objects.visible_to(user).filter(pk__in=order_ids).exists()
