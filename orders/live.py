"""Live status: what is published when an order's timeline grows, and what live clients read.

Design: the channel layer carries doorbells, the database carries the news
--------------------------------------------------------------------------
Every committed ``OrderEvent`` rings a *doorbell*: a tiny channel-layer message
that says "order 42 has news, up to seq 17" (``order.changed`` to the order's
group, ``orders.changed`` to the dashboard group). It carries no event content.
A consumer that hears it reads the events after the last number *it* sent
from the database and sends those. Why not push the events themselves:

- **No gap, no duplicate, by construction.** The database is the only source;
  each consumer keeps one cursor (the last seq it sent) and only ever sends
  ``seq > cursor`` in order. A doorbell that races a catch-up query, arrives
  twice, arrives late or never arrives cannot make a client miss or repeat an
  event: a consumer joins the group *before* its catch-up read, so anything
  committed after that read rings a bell it will hear, and anything it reads
  twice is below its cursor. ``seq`` is handed out under the order's row lock
  (``services.record_event``), so committed numbers always form a prefix: a
  reader never sees 18 before 17.
- **Losing doorbells is harmless.** channels-redis drops group messages for a
  channel over capacity (1,000 by default). Whatever rings later, and the
  consumers' own periodic re-check (the heartbeat), makes the consumer read
  again; a doorbell means "look again", never "here is the news".
- **Coalescing is free.** Doorbells are per order and idempotent, so they
  collapse: in this module, many commits of one order waiting to be published
  become one doorbell (the highest seq); in the consumer, many doorbells within
  ``LIVE_FLUSH_MS`` become one read and one WebSocket message holding every new
  event. A 1,000-image order sends the browser at most one message per
  interval (a few hundred events each at most), never one per image step, and
  the channel layer sees at most one small message per order per publish.
- **The final state is right** because each message also carries the order's
  counters and status read *after* its events.

Publishing happens after commit (``transaction.on_commit``, hooked from a
``post_save`` receiver in ``orders.signals``), never inside the transaction: a
rolled-back event must not ring, and a client must find in the database what a
bell announced. Doorbells are handed to one background thread per process with
its own event loop (``_Publisher``): a commit never waits for Redis, Celery
workers do not build an event loop and a Redis connection per event (what
``async_to_sync`` would do outside an ASGI server), and a Redis hiccup costs a
logged warning, never a failed write.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from . import attention, selectors, timeline
from .models import Order, OrderEvent

log = logging.getLogger(__name__)

#: Channel-layer group of everyone watching the dashboard.
DASHBOARD_GROUP = "rkh.dashboard"
#: Channel-layer message types (the consumers' handler names, with "." as "_").
ORDER_CHANGED = "order.changed"
ORDERS_CHANGED = "orders.changed"
#: Most events in one WebSocket message or timeline page.
MAX_EVENTS_PER_MESSAGE = 200
#: An order reference in a URL (the REST API's ``lookup_value_regex``): anything
#: else cannot be an order and never reaches a query.
ORDER_REF = r"(?P<order_ref>[A-Za-z0-9][A-Za-z0-9-]{0,39})"


def order_group(order_id: int) -> str:
    """The channel-layer group of one order's watchers (by primary key: stable, ASCII)."""
    return f"rkh.order.{order_id}"


def flush_interval() -> float:
    """Seconds between two messages to one order watcher (``LIVE_FLUSH_MS``, default 100).

    The first event after a quiet spell goes out at once; events that follow
    within the interval are gathered into the next message. 100 ms keeps a
    busy order at ten messages a second while adding at most 0.1 s of delay.
    """
    return getattr(settings, "LIVE_FLUSH_MS", 100) / 1000


def dashboard_interval() -> float:
    """Seconds between two dashboard messages (``LIVE_DASHBOARD_MS``, default 500).

    A dashboard message is a snapshot of several queries; people read a
    dashboard, they do not watch it frame by frame.
    """
    return getattr(settings, "LIVE_DASHBOARD_MS", 500) / 1000


def heartbeat_interval() -> float:
    """Seconds between heartbeats (``LIVE_HEARTBEAT_S``, default 25).

    Each heartbeat re-checks the database (repairing a lost doorbell) and the
    user's access, and tells the client the socket is alive: browsers cannot
    see WebSocket pings, and proxies close connections idle for 60 s.
    """
    return float(getattr(settings, "LIVE_HEARTBEAT_S", 25))


# --- publishing -------------------------------------------------------------------


def on_event_saved(sender: Any, instance: OrderEvent, created: bool, **kwargs: Any) -> None:
    """``post_save`` receiver of ``OrderEvent``: ring the doorbell once the row is committed."""
    if not created or kwargs.get("raw"):
        return
    order_id, seq = instance.order_id, instance.seq
    # robust: a publishing failure must never surface in the code that committed.
    transaction.on_commit(lambda: publisher.publish(order_id, seq), robust=True)


def ring(order_id: int) -> None:
    """Make the order's watchers read its state again once the current transaction commits.

    For changes the order page shows that write no timeline entry (the PMR box's "waiting
    for the PMR", the PMR's own status of the order): consumers read the order's state and
    send it if it differs from what they last sent. Outside a transaction it rings at once.
    """
    transaction.on_commit(lambda: publisher.publish(order_id, 0), robust=True)


class _Publisher:
    """Sends doorbells from a background thread with one long-lived event loop.

    ``publish`` only records "order → highest seq" under a lock and wakes the
    loop, so a commit never waits for Redis. The loop drains everything
    recorded since its last round: one ``order.changed`` per order and one
    ``orders.changed`` for the dashboard, whatever the number of commits.
    Forked children (Celery prefork) start their own thread on first use.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start afresh; also what a forked child does (the parent's thread does not exist
        there, and its lock may have been held at the fork)."""
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}
        self._dashboard = False  # a dashboard-only doorbell is waiting (ring_dashboard)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self._draining = False
        self._idle = threading.Event()
        self._idle.set()
        self._last_warning = 0.0

    def publish(self, order_id: int, seq: int) -> None:
        with self._lock:
            loop = self._ensure_loop()
            self._pending[order_id] = max(seq, self._pending.get(order_id, 0))
            if self._draining:
                return  # the running drain picks it up in its next round
            self._draining = True
            self._idle.clear()
        loop.call_soon_threadsafe(loop.create_task, self._drain())

    def ring_dashboard(self) -> None:
        """Tell every dashboard to look again, with no order news (an outside service
        went down or came back: ``orders.attention.changed``)."""
        with self._lock:
            loop = self._ensure_loop()
            self._dashboard = True
            if self._draining:
                return
            self._draining = True
            self._idle.clear()
        loop.call_soon_threadsafe(loop.create_task, self._drain())

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every recorded doorbell is sent; True if it happened in time."""
        return self._idle.wait(timeout)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None and self._pid == os.getpid():
            return self._loop
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="rkh-live-publisher", daemon=True)
        thread.start()
        self._loop, self._pid = loop, os.getpid()
        return loop

    async def _drain(self) -> None:
        from channels.layers import get_channel_layer

        while True:
            with self._lock:
                batch, self._pending = self._pending, {}
                dashboard, self._dashboard = self._dashboard, False
                if not batch and not dashboard:
                    self._draining = False
                    self._idle.set()
                    return
            try:
                layer = get_channel_layer()
                if layer is None:  # no channel layer configured: nobody listens
                    continue
                for order_id, seq in batch.items():
                    await layer.group_send(
                        order_group(order_id), {"type": ORDER_CHANGED, "seq": seq}
                    )
                await layer.group_send(
                    DASHBOARD_GROUP,
                    {"type": ORDERS_CHANGED, "orders": [[o, s] for o, s in batch.items()]},
                )
            except Exception:  # Redis away: clients re-check on their heartbeat
                now = time.monotonic()
                if now - self._last_warning > 60:
                    self._last_warning = now
                    log.warning("Could not publish live doorbells", exc_info=True)


publisher = _Publisher()
os.register_at_fork(after_in_child=publisher.reset)
atexit.register(publisher.flush, 2.0)


# --- what live clients read ------------------------------------------------------------

#: Order fields a live message needs; the rest stays in the database (parts registered
#: with ``register_state_part`` add theirs).
ORDER_FIELDS = (
    "id",
    "order_ref",
    "status",
    "created_by_id",
    "assigned_to_id",
    "last_event_seq",
    "total_images",
    "ingested_images",
    "processed_images",
    "rejected_images",
    "failed_images",
    "review_images",
    "ai_processed",  # handed to the PMR: the drop zone gives way (Order.images_refused_because)
    # The order's details as its page shows them (they may be edited while it is open).
    "customer_name",
    "customer_email",
    "order_date",
    "notes",
    "event__event_id",
    "event__name",
    "preset__name",
    "assigned_to__username",
    "assigned_to__display_name",
    "assigned_to__first_name",
    "assigned_to__last_name",
)
#: Relations the details read, joined in the same query.
ORDER_RELATED = ("event", "preset", "assigned_to")

StatePart = Callable[[Order], dict[str, Any]]
#: name → function: what apps above ``orders`` add to an order's live state (e.g. ``pmr``).
_state_parts: dict[str, StatePart] = {}
_state_fields: dict[str, tuple[str, ...]] = {}


def register_state_part(name: str, part: StatePart, *, fields: tuple[str, ...] = ()) -> None:
    """Let an app contribute ``state[name] = part(order)`` to every live order state.

    Why a hook: the order page shows boxes of apps that depend on ``orders`` (the PMR
    delivery box), and everything the page shows must follow the live state. Such an app
    registers its part from its ``AppConfig.ready``, so ``orders`` never imports it. ``fields``
    are the ``Order`` fields the part reads, loaded with the live reads' order row.
    ``part`` reads the database (keep it to a query or two: it runs on every live message).
    """
    _state_parts[name] = part
    _state_fields[name] = tuple(fields)


def order_fields() -> tuple[str, ...]:
    """The ``Order`` fields a live read loads: ours and those the registered parts need."""
    extra = [f for fields in _state_fields.values() for f in fields if f not in ORDER_FIELDS]
    return ORDER_FIELDS + tuple(dict.fromkeys(extra))


def state_queryset(queryset=None):
    """Orders loaded with what ``order_state`` reads (one query, no more per order)."""
    queryset = Order.objects.all() if queryset is None else queryset
    return queryset.select_related(*ORDER_RELATED).only(*order_fields())


def order_details(order: Order) -> dict[str, str]:
    """The order's details as its page shows them: the same strings the template renders."""
    return {
        "event": str(order.event),
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "order_date": date_format(timezone.localtime(order.order_date), "DATETIME_FORMAT"),
        "preset": str(order.preset) if order.preset_id else "",
        "assigned_to": str(order.assigned_to) if order.assigned_to_id else "",
        "notes": order.notes,
    }


def closed_notice(order: Order) -> str:
    """What the order page says instead of the drop zone once no image can be added (closed,
    or handed to the PMR delivery); "" while images are welcome."""
    return order.images_refused_because()


def order_state(order: Order) -> dict[str, Any]:
    """The order's status and counters as live messages carry them, with the registered parts.

    The order page's JSON (``views._order_progress``) is this without ``last_seq``,
    so the page applies both with one function. Load the order with ``state_queryset``.
    ``counts_text`` is the line under the progress bars; ``details`` the order's facts (they
    may be edited while the page is open); ``closed``: completed or cancelled; ``closed_notice``:
    why no image can be added now (closed, or handed to the PMR), the drop zone gives way to it.
    """
    waiting = max(
        0,
        order.total_images
        - order.processed_images
        - order.rejected_images
        - order.failed_images
        - order.review_images,
    )
    counts = [f"{waiting} waiting"]
    if order.review_images:
        counts.append(f"{order.review_images} in review")
    counts += [f"{order.rejected_images} rejected", f"{order.failed_images} failed"]
    state: dict[str, Any] = {
        "ref": order.order_ref,
        "status": order.status,
        "status_label": order.get_status_display(),
        "total": order.total_images,
        "ingested": order.ingested_images,
        "processed": order.processed_images,
        "rejected": order.rejected_images,
        "failed": order.failed_images,
        "review": order.review_images,
        "waiting": waiting,
        "counts_text": " · ".join(counts),
        "closed": order.is_closed,
        "closed_notice": closed_notice(order),
        "details": order_details(order),
        "last_seq": order.last_event_seq,
    }
    for name, part in _state_parts.items():
        state[name] = part(order)
    return state


def dashboard_snapshot(user: Any, shown: set[int] | None = None) -> dict[str, Any]:
    """What the dashboard shows the user, as one JSON object; every read through the rule.

    The same selectors as the dashboard page (``views.home``): counters by
    status, the newest open orders, the latest activity. A snapshot rather
    than a stream of changes: the dashboard shows current state, so a client
    that was away needs the present, not the history, and losing a message
    cannot leave it wrong. ``shown`` (if given) receives the primary keys of the
    orders the snapshot mentions, so a consumer knows whose news concerns it.
    """
    counters, total = selectors.status_counters(user)
    orders = selectors.open_orders(user)
    activity = timeline.describe(selectors.recent_activity(user))
    report = attention.collect(user)
    if shown is not None:
        shown.update(o.pk for o in orders)
        shown.update(e.order_id for e in activity)
    open_count = sum(n for value, _label, n in counters if value not in Order.CLOSED)
    return {
        "type": "dashboard",
        "counters": {value: n for value, _label, n in counters},
        "total": total,
        "open_count": open_count,
        # The "Needs attention" panel: items (sentence, level, links) and how many
        # orders need attention (the counter; each flagged row carries its sentence).
        "attention": report.as_json(),
        "orders": [
            {
                "ref": o.order_ref,
                "url": reverse("order_detail", args=[o.order_ref]),
                "event": o.event.event_id,
                "customer": o.customer_name,
                "status": o.status,
                "status_label": o.get_status_display(),
                "total": o.total_images,
                "ingested": o.ingested_images,
                "processed": o.processed_images,
                "assigned_to": str(o.assigned_to) if o.assigned_to_id else "",
                "last_seq": o.last_event_seq,
                "attention": report.flags.get(o.pk, ""),
            }
            for o in orders
        ],
        "activity": [timeline.activity_json(e) for e in activity],
    }
