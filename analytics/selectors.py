"""The dashboard's numbers: every aggregate the page, the JSON and the CSV show.

Everything starts from the access rule (``Order.objects.restrict(user, "view")``
and the same for images), so analytics never count an order the user could not
open. Counts and sums are grouped by day in the database (``TruncDate`` in the
current time zone). Two figures have no SQL that runs on both PostgreSQL and the
SQLite of ``make run``; they read narrow, date-bounded queries instead:

- median and p90 completion times (PostgreSQL's ``percentile_cont`` does not
  exist in SQLite): one ``(created_at, completed_at)`` pair per completed order;
- "needed a fallback": on PostgreSQL a ``jsonb_path_exists`` test in the
  database; elsewhere a walk over the range's provider trails (JSON lists).

Definitions are in docs/analytics.md; the tests pin them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from events.models import Event
from orders.models import Image, Order, OrderEvent
from pmr.models import OutboxEntry
from utilities import access

#: Provider outcomes that mean "this provider could not serve, the chain moved on"
#: (docs/ai.md). ``ok`` and ``cache`` are successes; ``unsupported`` is routing by
#: design (a provider that never does the operation), not a fallback.
FALLBACK_OUTCOMES = frozenset({"unavailable", "error", "circuit_open", "rejected"})

#: Label of the cost of orders that name no preset (the pipeline then uses AI_DEFAULT_PRESET).
NO_PRESET_LABEL = "(no preset: default)"

#: Outbox states counted as still waiting and as failed (``done`` and ``skipped`` are neither).
PMR_PENDING_STATES = (OutboxEntry.State.PENDING,)
PMR_FAILED_STATES = (OutboxEntry.State.FAILED,)

#: The per-day figures, in CSV column order (the JSON uses the same keys).
DAY_COLUMNS = (
    "orders",
    "images",
    "orders_completed",
    "completion_median_s",
    "completion_p90_s",
    "ai_cost_usd",
    "fallback_images",
    "review_images",
    "fallback_or_review_images",
    "fallback_share",
    "review_share",
    "fallback_or_review_share",
    "pmr_backlog",
    "pmr_failures",
)


@dataclass(frozen=True)
class Filters:
    """What the dashboard shows: days ``start``..``end`` (inclusive), one event or all."""

    start: dt.date
    end: dt.date
    event: Event | None = None

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Aware start of the first day and start of the day after the last (current time zone)."""
        tz = timezone.get_current_timezone()
        lo = dt.datetime.combine(self.start, dt.time.min, tzinfo=tz)
        hi = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        return lo, hi


@dataclass
class PmrSeries:
    """PMR outbox entries per day they were queued: still waiting, and failed."""

    backlog: dict[dt.date, int] = field(default_factory=dict)
    failures: dict[dt.date, int] = field(default_factory=dict)

    @property
    def backlog_total(self) -> int:
        return sum(self.backlog.values())

    @property
    def failures_total(self) -> int:
        return sum(self.failures.values())


# --- scope ---------------------------------------------------------------------------


def visible_orders(user: Any, filters: Filters) -> QuerySet[Order]:
    """The orders analytics may count for ``user``: the access rule's view scope, then the event."""
    orders = Order.objects.restrict(user, access.Action.VIEW)
    if filters.event is not None:
        orders = orders.filter(event=filters.event)
    return orders


def visible_images(user: Any, filters: Filters) -> QuerySet[Image]:
    images = Image.objects.restrict(user, access.Action.VIEW)
    if filters.event is not None:
        images = images.filter(order__event=filters.event)
    return images


# --- helpers -------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Continuous percentile with linear interpolation, like PostgreSQL's ``percentile_cont``.

    Computed here because SQLite has no percentile aggregate and the app runs on both.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    below, above = math.floor(position), math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def needed_fallback(trails: Any) -> bool:
    """Did any operation of this image have a provider that could not serve it?

    ``trails`` is ``ai_metadata["trail"]``: ``{operation: [{provider, outcome, ...}, ...]}``.
    """
    if not isinstance(trails, dict):
        return False
    return any(
        isinstance(step, dict) and step.get("outcome") in FALLBACK_OUTCOMES
        for trail in trails.values()
        if isinstance(trail, list)
        for step in trail
    )


def _per_day(rows: Iterable[dict[str, Any]], key: str) -> dict[dt.date, Any]:
    return {row["day"]: row[key] for row in rows}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _usd(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(Decimal("0.000001"))


# --- the figures ---------------------------------------------------------------------


def orders_per_day(orders: QuerySet[Order], filters: Filters) -> dict[dt.date, int]:
    """Orders created per day."""
    lo, hi = filters.bounds()
    rows = (
        orders.filter(created_at__gte=lo, created_at__lt=hi)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("day")
        .annotate(n=Count("id"))
    )
    return _per_day(rows, "n")


def images_per_day(images: QuerySet[Image], filters: Filters) -> dict[dt.date, dict[str, Any]]:
    """Images received per day (``n``) and their AI cost (``cost``)."""
    lo, hi = filters.bounds()
    rows = (
        images.filter(created_at__gte=lo, created_at__lt=hi)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("day")
        .annotate(n=Count("id"), cost=Sum("ai_cost"))
    )
    return {row["day"]: row for row in rows}


def _went_to_review() -> QuerySet[OrderEvent]:
    """Timeline entries moving the outer query's image to ``needs_review`` (for ``Exists``)."""
    return OrderEvent.objects.annotate(
        image_id=Cast(KeyTextTransform("image", "payload"), BigIntegerField())
    ).filter(
        order_id=OuterRef("order_id"),
        kind=OrderEvent.Kind.IMAGE_STATUS,
        payload__to=Image.Status.NEEDS_REVIEW,
        image_id=OuterRef("pk"),
    )


def reviewed_images(images: QuerySet[Image], filters: Filters) -> dict[dt.date, set[int]]:
    """Ids of the images received per day that went to review.

    "Went to review": the image is in ``needs_review`` now, or its order's
    timeline shows it moved there once (an image approved since still counts).
    """
    lo, hi = filters.bounds()
    rows = (
        images.filter(
            Q(status=Image.Status.NEEDS_REVIEW) | Exists(_went_to_review()),
            created_at__gte=lo,
            created_at__lt=hi,
        )
        .order_by()
        .values_list("pk", "created_at")
    )  # no ordering: it would join the orders
    out: dict[dt.date, set[int]] = defaultdict(set)
    for pk, created_at in rows.iterator(chunk_size=2000):
        out[timezone.localtime(created_at).date()].add(pk)
    return dict(out)


class JsonbPathExists(Func):
    """PostgreSQL's ``jsonb_path_exists(target, path)``: does the JSON path match anything?"""

    function = "jsonb_path_exists"
    template = "%(function)s(%(expressions)s::jsonpath)"
    output_field = BooleanField()


#: The fallback test as a JSON path (PostgreSQL): any step of any trail with such an outcome.
FALLBACK_JSONPATH = (
    "$.trail.*[*] ? ("
    + " || ".join(f'@.outcome == "{outcome}"' for outcome in sorted(FALLBACK_OUTCOMES))
    + ")"
)


def fallback_images(
    images: QuerySet[Image], filters: Filters, *, in_database: bool | None = None
) -> dict[dt.date, set[int]]:
    """Ids of the images received per day for which some provider could not serve.

    On PostgreSQL the test runs in the database (``jsonb_path_exists``, no JSON
    leaves it); elsewhere (SQLite) the range's trails are read and tested with
    ``needed_fallback``. ``in_database`` forces one way (the tests compare both).
    """
    if in_database is None:
        in_database = connection.vendor == "postgresql"
    lo, hi = filters.bounds()
    candidates = images.filter(
        created_at__gte=lo, created_at__lt=hi, ai_metadata__has_key="trail"
    ).order_by()
    out: dict[dt.date, set[int]] = defaultdict(set)
    if in_database:
        rows = candidates.filter(
            JsonbPathExists(F("ai_metadata"), Value(FALLBACK_JSONPATH))
        ).values_list("pk", "created_at")
        for pk, created_at in rows.iterator(chunk_size=2000):
            out[timezone.localtime(created_at).date()].add(pk)
        return dict(out)
    trails = candidates.values_list("pk", "created_at", "ai_metadata__trail")
    for pk, created_at, trail in trails.iterator(chunk_size=2000):
        if needed_fallback(trail):
            out[timezone.localtime(created_at).date()].add(pk)
    return dict(out)


def completion_times(orders: QuerySet[Order], filters: Filters) -> dict[dt.date, list[float]]:
    """Seconds from creation to completion of the orders completed on each day."""
    lo, hi = filters.bounds()
    rows = (
        orders.filter(status=Order.Status.COMPLETED, completed_at__gte=lo, completed_at__lt=hi)
        .order_by()
        .values_list("created_at", "completed_at")
    )
    out: dict[dt.date, list[float]] = defaultdict(list)
    for created_at, completed_at in rows.iterator(chunk_size=2000):
        out[timezone.localtime(completed_at).date()].append(
            (completed_at - created_at).total_seconds()
        )
    return dict(out)


def cost_per_preset(images: QuerySet[Image], filters: Filters) -> list[dict[str, Any]]:
    """AI cost and image count per processing preset of the images' orders, most costly first."""
    lo, hi = filters.bounds()
    rows = (
        images.filter(created_at__gte=lo, created_at__lt=hi)
        .order_by()
        .values("order__preset__name")
        .annotate(n=Count("id"), cost=Sum("ai_cost"))
    )
    presets = [
        {
            "preset": row["order__preset__name"] or NO_PRESET_LABEL,
            "images": row["n"],
            "ai_cost_usd": _usd(row["cost"]),
        }
        for row in rows
    ]
    presets.sort(key=lambda p: (-p["ai_cost_usd"], p["preset"]))
    return presets


def pmr_backlog(orders: QuerySet[Order], filters: Filters) -> PmrSeries:
    """PMR outbox entries of the visible orders, by the day they were queued.

    ``backlog``: entries still waiting for delivery; ``failures``: entries the
    PMR refused, which wait for a person.
    """
    lo, hi = filters.bounds()
    rows = (
        OutboxEntry.objects.filter(
            order__in=orders.values("pk"), created_at__gte=lo, created_at__lt=hi
        )
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("day")
        .annotate(
            backlog=Count("pk", filter=Q(state__in=PMR_PENDING_STATES)),
            failures=Count("pk", filter=Q(state__in=PMR_FAILED_STATES)),
        )
    )
    rows = list(rows)
    return PmrSeries(backlog=_per_day(rows, "backlog"), failures=_per_day(rows, "failures"))


# --- the whole dashboard -------------------------------------------------------------


def dashboard(user: Any, filters: Filters) -> dict[str, Any]:
    """Every figure of the dashboard for ``user``, as plain data (JSON-ready but for Decimals).

    ``days``: one row per day with ``DAY_COLUMNS``; ``totals``: the same over the
    range (percentiles over all the range's completions, not averaged per day);
    ``presets``: AI cost per preset.
    """
    orders = visible_orders(user, filters)
    images = visible_images(user, filters)
    created = orders_per_day(orders, filters)
    received = images_per_day(images, filters)
    reviewed = reviewed_images(images, filters)
    fallback = fallback_images(images, filters)
    completions = completion_times(orders, filters)
    pmr = pmr_backlog(orders, filters)

    days = []
    for day in filters.days:
        stats = received.get(day, {})
        n_images = stats.get("n", 0)
        day_reviewed, day_fallback = reviewed.get(day, set()), fallback.get(day, set())
        n_review, n_fallback = len(day_reviewed), len(day_fallback)
        n_either = len(day_reviewed | day_fallback)
        durations = completions.get(day, [])
        days.append(
            {
                "date": day,
                "orders": created.get(day, 0),
                "images": n_images,
                "orders_completed": len(durations),
                "completion_median_s": _seconds(percentile(durations, 0.5)),
                "completion_p90_s": _seconds(percentile(durations, 0.9)),
                "ai_cost_usd": _usd(stats.get("cost")),
                "fallback_images": n_fallback,
                "review_images": n_review,
                "fallback_or_review_images": n_either,
                "fallback_share": _share(n_fallback, n_images),
                "review_share": _share(n_review, n_images),
                "fallback_or_review_share": _share(n_either, n_images),
                "pmr_backlog": pmr.backlog.get(day, 0),
                "pmr_failures": pmr.failures.get(day, 0),
            }
        )

    every_duration = [d for values in completions.values() for d in values]
    n_images = sum(d["images"] for d in days)
    n_fallback = sum(d["fallback_images"] for d in days)
    n_review = sum(d["review_images"] for d in days)
    n_either = sum(d["fallback_or_review_images"] for d in days)
    totals = {
        "orders": sum(d["orders"] for d in days),
        "images": n_images,
        "orders_completed": len(every_duration),
        "completion_median_s": _seconds(percentile(every_duration, 0.5)),
        "completion_p90_s": _seconds(percentile(every_duration, 0.9)),
        "ai_cost_usd": _usd(sum((d["ai_cost_usd"] for d in days), Decimal(0))),
        "fallback_images": n_fallback,
        "review_images": n_review,
        "fallback_or_review_images": n_either,
        "fallback_share": _share(n_fallback, n_images),
        "review_share": _share(n_review, n_images),
        "fallback_or_review_share": _share(n_either, n_images),
        "pmr_backlog": pmr.backlog_total,
        "pmr_failures": pmr.failures_total,
    }
    return {
        "start": filters.start,
        "end": filters.end,
        "event": filters.event.event_id if filters.event else None,
        "timezone": timezone.get_current_timezone_name(),
        "days": days,
        "totals": totals,
        "presets": cost_per_preset(images, filters),
    }
