"""The PMR's part of the dashboard's "Needs attention" panel (``orders.attention``).

Two things: the PMR cannot be reached (its circuit is open, or orders wait in
offline mode), with since when and how much waits; and writes the PMR refused
(an outbox row ``failed``, e.g. the event was closed in the PMR), which stop
their order's delivery until a manager retries or skips them. Two queries
(waiting deliveries, refused rows), a third only during an outage (what waits),
and one Redis read (the breaker).
"""

from __future__ import annotations

import datetime as dt
import logging

import redis
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from orders.attention import (
    FLAG_LIMIT,
    NAMED_ORDERS,
    Contribution,
    Item,
    Link,
    Viewer,
    order_link,
    since,
)

from . import connection
from .models import OrderDelivery, OutboxEntry

log = logging.getLogger(__name__)
State, Kind = OutboxEntry.State, OutboxEntry.Kind
#: Refused writes described one by one (one item per order); the rest are counted.
REFUSED_LISTED = 5
#: What a refused write was about, as people say it.
WHAT = {
    Kind.ORDER_PUT: "the order's details",
    Kind.IMAGE_PUT: "an image",
    Kind.ORDER_STATUS: "a status change",
    Kind.ORDER_FINISH: "the end of the delivery",
}


def refusal_reason(entry: OutboxEntry) -> str:
    """Why the PMR refused the row, as the end of a sentence (no codes)."""
    error = entry.last_error if isinstance(entry.last_error, dict) else {}
    code = error.get("code")
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    if code == "event_closed":
        event_id = details.get("event_id") or entry.order.event.event_id
        return f"event {event_id} is closed in the PMR"
    if code in ("event_not_found", "unknown_event"):
        return f"the PMR does not know event {entry.order.event.event_id}"
    message = str(error.get("message") or "no reason given").strip().rstrip(".")
    return message[:1].lower() + message[1:] if message else "no reason given"


def _outbox_url(**filters: str) -> str:
    return reverse("admin:pmr_outboxentry_changelist") + "?" + urlencode(filters)


def provide(viewer: Viewer) -> Contribution:
    part = Contribution()
    user = viewer.user
    try:
        circuit = connection.breaker().state(connection.BREAKER_NAME)
    except redis.RedisError:
        log.warning("PMR circuit state unavailable", exc_info=True)
        circuit = {"state": "unknown"}
    waiting = list(
        OrderDelivery.objects.restrict(user)
        .filter(waiting_since__isnull=False)
        .select_related("order")
        .order_by("waiting_since")
        .only("order", "waiting_since", "order__order_ref")[: FLAG_LIMIT + 1]
    )
    refused = list(
        OutboxEntry.objects.restrict(user)
        .filter(state=State.FAILED)
        .select_related("order", "order__event")
        .order_by("id")[: FLAG_LIMIT + 1]
    )
    if circuit["state"] in ("open", "half_open") or waiting:
        part.items.append(_outage(viewer, circuit, waiting))
        for delivery in waiting[:FLAG_LIMIT]:
            part.flags[delivery.order_id] = (
                f"Waiting for the PMR {since(delivery.waiting_since)}; it goes by itself "
                "when the PMR answers."
            )
    if refused:
        part.items.extend(_refusals(viewer, refused))
        for entry in refused:
            part.flags.setdefault(
                entry.order_id,
                f"The PMR refused {WHAT.get(entry.kind, 'a write')}: {refusal_reason(entry)}. "
                "Its delivery waits for a manager.",
            )
    return part


def _outage(viewer: Viewer, circuit: dict, waiting: list[OrderDelivery]) -> Item:
    user = viewer.user
    moments = [d.waiting_since for d in waiting]
    if circuit.get("down_since"):
        moments.append(dt.datetime.fromtimestamp(circuit["down_since"], tz=dt.UTC))
    started = min(moments) if moments else timezone.now()
    down = circuit["state"] in ("open", "half_open")
    head = (
        f"The PMR is not answering ({since(started)})."
        if down
        else f"The PMR did not answer the last attempts ({since(started)})."
    )
    if waiting:
        rows = (
            OutboxEntry.objects.restrict(user)
            .filter(state=State.PENDING)
            .aggregate(
                writes=Count("id"),
                # An image's files (original, edited, prints) are several writes, one image.
                images=Count("image_id", filter=Q(kind=Kind.IMAGE_PUT), distinct=True),
            )
        )
        orders = len(waiting) if len(waiting) <= FLAG_LIMIT else f"more than {FLAG_LIMIT}"
        noun = "order waits" if orders == 1 else "orders wait"
        if not viewer.all_orders:
            noun = "of your orders waits" if orders == 1 else "of your orders wait"
        text = (
            f"{head} {orders} {noun} to be delivered, with {rows['images']} "
            f"image{'s' if rows['images'] != 1 else ''} ({rows['writes']} "
            f"write{'s' if rows['writes'] != 1 else ''}); they go by themselves when it "
            "answers again."
        )
    else:
        text = f"{head} Nothing waits for it yet; deliveries wait until it answers."
    links: list[Link] = []
    if viewer.staff:
        links.append(Link("PMR outbox", _outbox_url(state__exact=State.PENDING)))
    links.extend(order_link(d.order.order_ref) for d in waiting[:NAMED_ORDERS])
    return Item(key="pmr.unreachable", level="warning", text=text, links=tuple(links))


def _refusals(viewer: Viewer, refused: list[OutboxEntry]) -> list[Item]:
    by_order: dict[int, list[OutboxEntry]] = {}
    for entry in refused:
        by_order.setdefault(entry.order_id, []).append(entry)
    items = []
    for entries in list(by_order.values())[:REFUSED_LISTED]:
        first = entries[0]
        ref = first.order.order_ref
        extra = len(entries) - 1
        more = f" and {extra} more write{'s' if extra != 1 else ''}" if extra else ""
        text = (
            f"The PMR refused {WHAT.get(first.kind, 'a write')} of order {ref}{more}: "
            f"{refusal_reason(first)}. Its delivery stops until "
            + ("you retry or skip the write." if viewer.staff else "a manager retries or skips it.")
        )
        links = [order_link(ref)]
        if viewer.staff:
            links.append(Link("Retry or skip it", _outbox_url(state__exact=State.FAILED, q=ref)))
        items.append(Item(key=f"pmr.refused.{ref}", level="error", text=text, links=tuple(links)))
    rest = len(by_order) - REFUSED_LISTED
    if rest > 0:
        links = (
            (Link("All refused writes", _outbox_url(state__exact=State.FAILED)),)
            if viewer.staff
            else ()
        )
        items.append(
            Item(
                key="pmr.refused.more",
                level="error",
                text=f"The PMR refused writes of {viewer.orders_phrase(rest)} more.",
                links=links,
            )
        )
    return items
