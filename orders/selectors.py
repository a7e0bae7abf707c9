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

from utilities import access

from . import tallies
from .models import Image, Order, OrderEvent, customer_email_q

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
    """(value, label, count) per order status of the visible orders, and their total.

    Read from the counters kept as orders change (``orders.tallies``): one indexed query
    whatever the number of orders, in the access rule's scope for ``user`` (every order, or
    the user's own and assigned ones). A rule the counters do not keep falls back to
    counting the visible orders.
    """
    rule = access.order_scope(user, access.Action.VIEW)
    if rule is None:
        by_status: dict[str, int] = {}
    elif (scope := tallies.scope_of(user, rule)) is not None:
        by_status = tallies.counts(scope)
    else:
        by_status = dict(
            Order.objects.filter(rule)
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
        qs = qs.for_customer_email(filters["customer"])
    tz = timezone.get_current_timezone()
    if filters.get("created_from"):
        start = dt.datetime.combine(filters["created_from"], dt.time.min, tzinfo=tz)
        qs = qs.filter(created_at__gte=start)
    if filters.get("created_to"):
        end = dt.datetime.combine(filters["created_to"] + dt.timedelta(days=1), dt.time.min, tz)
        qs = qs.filter(created_at__lt=end)
    if filters.get("q"):
        term = filters["q"]
        # Customer names and e-mails are encrypted: a whole e-mail address matches through
        # its keyed hash; names cannot be searched (docs/pages.md).
        qs = qs.filter(
            Q(order_ref__icontains=term)
            | Q(event__event_id__icontains=term)
            | customer_email_q(term)
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
    "name_key",
    "status",
    "status_reason",
    "width",
    "height",
    "file_size",
    "thumbnail",
    "preview",
    "original",
)


def image_grid(
    order: Order, *, after_id: int = 0, size: int | None = None, after_key: str | None = None
):
    """One page of the order's images in their names' natural order, and whether more follow.

    Keyset pagination on ``(name_key, id)`` (index ``images_order_name_idx``): ``after_id``
    is the last image of the previous page, whose key is looked up (one query, or given as
    ``after_key`` by a caller that has it, ``page_anchor``); an id that is not an image of
    this order starts from the first page. So page 30 costs what page 1 does, and an image
    that arrives meanwhile lands on the page its name belongs to.
    """
    size = size or IMAGE_PAGE_SIZE
    images = Image.objects.filter(order=order)
    if after_id:
        anchor = after_key if after_key is not None else page_anchor(order, after_id)
        if anchor is not None:
            images = images.filter(Q(name_key__gt=anchor) | Q(name_key=anchor, id__gt=after_id))
    rows = list(images.only(*IMAGE_GRID_FIELDS).order_by("name_key", "id")[: size + 1])
    return rows[:size], len(rows) > size


def page_anchor(order: Order, after_id: int) -> str | None:
    """The sort key of the image a grid page starts after (None: the first page)."""
    if not after_id:
        return None
    return Image.objects.filter(order=order, pk=after_id).values_list("name_key", flat=True).first()


def last_image_id(order: Order) -> int:
    """The order's newest image id: the page asks its images endpoint for those after it."""
    return (
        Image.objects.filter(order=order).order_by("-id").values_list("id", flat=True).first() or 0
    )


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
