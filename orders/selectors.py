"""Reads for the order pages: bounded queries, always through the access rule.

Every function takes the user and starts from ``visible_to`` / ``restrict``,
so a page cannot forget the rule. Lists are keyset-paginated on the same keys
as their index, so page 2,000 costs what page 1 costs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import Image, Order, OrderEvent

#: Orders per page of the order list.
ORDER_PAGE_SIZE = 25
#: Counting stops here: "1,000+" is as useful as 97,312 and costs a bounded scan.
COUNT_CAP = 1000
#: Images per page of an order's grid.
IMAGE_PAGE_SIZE = 300
#: Open orders and activity entries on the dashboard.
DASHBOARD_ORDERS = 12
DASHBOARD_ACTIVITY = 15

#: The list's pseudo-status for "neither completed nor cancelled".
OPEN = "open"

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# --- dashboard ----------------------------------------------------------------


def status_counters(user) -> tuple[list[tuple[str, str, int]], int]:
    """(value, label, count) per order status of the visible orders, and their total."""
    by_status = dict(
        Order.objects.visible_to(user)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    counters = [(value, label, by_status.get(value, 0)) for value, label in Order.Status.choices]
    return counters, sum(by_status.values())


def open_orders(user, limit: int = DASHBOARD_ORDERS) -> list[Order]:
    """The newest visible orders that are neither completed nor cancelled."""
    return list(
        Order.objects.visible_to(user)
        .exclude(status__in=Order.CLOSED)
        .select_related("event", "created_by", "assigned_to")
        .order_by("-created_at", "-id")[:limit]
    )


def recent_activity(user, limit: int = DASHBOARD_ACTIVITY) -> list[OrderEvent]:
    """The latest timeline entries of visible orders.

    Ordered by primary key (the insertion order) so the database walks the
    primary-key index backwards instead of sorting every entry by time.
    """
    return list(
        OrderEvent.objects.visible_to(user).select_related("order", "actor").order_by("-id")[:limit]
    )


# --- order list -------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in the (created_at, id) descending order."""

    created_at: dt.datetime
    id: int

    def encode(self) -> str:
        micros = (self.created_at - EPOCH) // dt.timedelta(microseconds=1)
        return f"{micros}.{self.id}"

    @classmethod
    def of(cls, order: Order) -> Cursor:
        return cls(order.created_at, order.pk)

    @classmethod
    def decode(cls, raw: str | None) -> Cursor | None:
        """``None`` for anything that is not a cursor this module made."""
        if not raw or len(raw) > 40:
            return None
        micros, _, pk = raw.partition(".")
        if not (micros.isascii() and micros.isdigit() and pk.isascii() and pk.isdigit()):
            return None
        try:
            created_at = EPOCH + dt.timedelta(microseconds=int(micros))
        except OverflowError:
            return None
        if int(pk) > 2**63 - 1:
            return None
        return cls(created_at, int(pk))


@dataclass
class OrderPage:
    orders: list[Order]
    newer: Cursor | None = None  # position to ask "before" for the newer page
    older: Cursor | None = None  # position to ask "after" for the older page
    count: int = 0
    count_capped: bool = False
    is_first: bool = True
    filters: dict[str, Any] = field(default_factory=dict)


def filter_orders(qs: QuerySet[Order], filters: dict[str, Any]) -> QuerySet[Order]:
    """Apply the list's filters (cleaned values of ``OrderFilterForm``)."""
    if filters.get("status") == OPEN:
        qs = qs.exclude(status__in=Order.CLOSED)
    elif filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("event"):
        qs = qs.filter(event__event_id__iexact=filters["event"])
    if filters.get("customer"):
        term = filters["customer"]
        qs = qs.filter(Q(customer_name__icontains=term) | Q(customer_email__icontains=term))
    tz = timezone.get_current_timezone()
    if filters.get("created_from"):
        start = dt.datetime.combine(filters["created_from"], dt.time.min, tzinfo=tz)
        qs = qs.filter(created_at__gte=start)
    if filters.get("created_to"):
        end = dt.datetime.combine(filters["created_to"] + dt.timedelta(days=1), dt.time.min, tz)
        qs = qs.filter(created_at__lt=end)
    if filters.get("q"):
        term = filters["q"]
        qs = qs.filter(
            Q(order_ref__icontains=term)
            | Q(customer_name__icontains=term)
            | Q(customer_email__icontains=term)
            | Q(event__event_id__icontains=term)
        )
    return qs


def _older_than(cursor: Cursor) -> Q:
    # The plain "created_at <= c" is redundant with the OR but lets the database
    # start the index scan at the cursor instead of filtering from the top.
    return Q(created_at__lte=cursor.created_at) & (
        Q(created_at__lt=cursor.created_at) | Q(id__lt=cursor.id)
    )


def _newer_than(cursor: Cursor) -> Q:
    return Q(created_at__gte=cursor.created_at) & (
        Q(created_at__gt=cursor.created_at) | Q(id__gt=cursor.id)
    )


def order_page(
    user,
    filters: dict[str, Any],
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int | None = None,
) -> OrderPage:
    """One page of the visible orders matching ``filters``, newest first.

    ``after``: the page of orders older than the cursor (the "Older" link);
    ``before``: the page of orders newer than it ("Newer"). Four bounded
    queries at most: the page (+1 row to know if there is more), one row to
    know if there is more the other way, and a capped count.
    """
    size = size or ORDER_PAGE_SIZE
    base = filter_orders(Order.objects.visible_to(user), filters)
    page_qs = base.select_related("event", "created_by", "assigned_to")
    if before is not None:
        rows = list(page_qs.filter(_newer_than(before)).order_by("created_at", "id")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        more_older = bool(rows) and base.filter(_older_than(Cursor.of(rows[-1]))).exists()
    else:
        qs = page_qs.filter(_older_than(after)) if after is not None else page_qs
        rows = list(qs.order_by("-created_at", "-id")[: size + 1])
        more_older = len(rows) > size
        rows = rows[:size]
        more_newer = (
            after is not None
            and bool(rows)
            and base.filter(_newer_than(Cursor.of(rows[0]))).exists()
        )
    cap = COUNT_CAP
    count = base.order_by()[: cap + 1].count()
    return OrderPage(
        orders=rows,
        newer=Cursor.of(rows[0]) if more_newer else None,
        older=Cursor.of(rows[-1]) if more_older else None,
        count=min(count, cap),
        count_capped=count > cap,
        is_first=after is None and before is None,
        filters=filters,
    )


# --- order detail -------------------------------------------------------------------

#: Image fields the grid and the status JSON need; the rest stays in the database.
IMAGE_GRID_FIELDS = (
    "id",
    "order_id",
    "original_filename",
    "status",
    "status_reason",
    "width",
    "height",
    "file_size",
    "thumbnail",
    "preview",
    "original",
)


def image_grid(order: Order, *, after_id: int = 0, size: int | None = None):
    """One page of the order's images by id, and whether there are more after it."""
    size = size or IMAGE_PAGE_SIZE
    rows = list(
        Image.objects.filter(order=order, id__gt=after_id)
        .only(*IMAGE_GRID_FIELDS)
        .order_by("id")[: size + 1]
    )
    return rows[:size], len(rows) > size


def images_changed(order: Order, *, after_id: int, ids: list[int], limit: int = 500):
    """Images added after ``after_id`` and the current state of ``ids`` (for polling)."""
    scope = Q(id__gt=after_id)
    if ids:
        scope |= Q(id__in=ids[:limit])
    return list(
        Image.objects.filter(order=order)
        .filter(scope)
        .only(*IMAGE_GRID_FIELDS)
        .order_by("id")[: limit * 2]
    )


def thumbnail_box(image: Image) -> tuple[int, int]:
    """The thumbnail's size as the ingest makes it (long side THUMBNAIL_SIZE), for width/height.

    Known before the thumbnail is loaded, so the grid does not jump around.
    """
    long_side = settings.THUMBNAIL_SIZE
    if image.width and image.height:
        scale = min(1.0, long_side / max(image.width, image.height))
        return max(1, round(image.width * scale)), max(1, round(image.height * scale))
    return long_side, long_side


def timeline(order: Order, limit: int = 100, *, after_seq: int = 0) -> list[OrderEvent]:
    """The newest entries of the order's timeline (after ``after_seq``), newest first."""
    return list(
        order.timeline.filter(seq__gt=after_seq).select_related("actor").order_by("-seq")[:limit]
    )


def describe_events(entries: list[OrderEvent]) -> list[OrderEvent]:
    """Set ``entry.text`` on each entry; image entries name their file (one query for all)."""
    image_ids = {
        e.payload.get("image")
        for e in entries
        if e.kind
        in (OrderEvent.Kind.IMAGE_STATUS, OrderEvent.Kind.IMAGE_REQUEUED, "image.hand_edited")
        and isinstance(e.payload, dict)
    }
    image_ids = {i for i in image_ids if isinstance(i, int) and not isinstance(i, bool)}
    names = (
        dict(Image.objects.filter(pk__in=image_ids).values_list("id", "original_filename"))
        if image_ids
        else {}
    )
    for entry in entries:
        entry.text = describe_event(entry, names)
    return entries


def describe_event(entry: OrderEvent, image_names: dict[int, str] | None = None) -> str:
    """A sentence for a timeline entry, from its kind and payload."""
    p = entry.payload if isinstance(entry.payload, dict) else {}
    labels = dict(Order.Status.choices) | {f"image:{k}": v for k, v in Image.Status.choices}
    kind = entry.kind
    if kind == OrderEvent.Kind.ORDER_CREATED:
        return "Order created"
    if kind == OrderEvent.Kind.ORDER_STATUS:
        text = f"Status {labels.get(p.get('from'), p.get('from'))} → {labels.get(p.get('to'))}"
        return f"{text} ({p['reason']})" if p.get("reason") else text
    if kind == OrderEvent.Kind.ORDER_UPDATED:
        return "Details edited: " + ", ".join(str(f).replace("_", " ") for f in p.get("fields", []))
    if kind == OrderEvent.Kind.ORDER_ASSIGNED:
        return "Assignment changed"
    if kind == OrderEvent.Kind.IMAGE_ADDED:
        return f"Image added: {p.get('filename', '')}".rstrip(": ")
    if kind == OrderEvent.Kind.IMAGE_STATUS:
        to = labels.get(f"image:{p.get('to')}", p.get("to"))
        name = (image_names or {}).get(p.get("image")) or f"Image #{p.get('image')}"
        text = f"{name} {str(to).lower()}"
        return f"{text}: {p['reason']}" if p.get("reason") else text
    if kind == "order.ai_completed":
        return "AI processing finished"
    if kind == "order.preset_changed":
        return f"Preset changed to {p.get('to')}"
    if kind == "image.hand_edited":
        name = (image_names or {}).get(p.get("image")) or p.get("filename") or "An image"
        return f"{name} replaced by a hand-edited file"
    if kind == OrderEvent.Kind.ORDER_STOPPED_SHORT:
        return f"Stopped before delivery: {p.get('reason', '')}".rstrip(": ")
    if kind == OrderEvent.Kind.ORDER_PARTIAL_DELIVERY:
        left = [str(i.get("filename", "")) for i in p.get("left_out", []) if isinstance(i, dict)]
        return "Delivered without the failed images: " + ", ".join(left)
    if kind == OrderEvent.Kind.ORDER_SUBMITTED:
        return f"Every file sent ({p.get('images', 0)} file(s))"
    if kind == OrderEvent.Kind.ORDER_SUBMIT_OVERDUE:
        return str(p.get("reason") or "Waiting for the sending system for a long time")
    if kind == OrderEvent.Kind.IMAGE_REQUEUED:
        name = (image_names or {}).get(p.get("image")) or f"Image #{p.get('image')}"
        step = "the AI step" if p.get("step") == "ai" else "ingest"
        return f"{name} queued again for {step}"
    return kind
