"""A small world with known numbers: orders, images, costs, trails and reviews on fixed days.

Timestamps are set with ``update()`` after the services made the rows (they
are ``auto_now_add``), so every figure of the dashboard is known in advance;
the expected values are worked out by hand in the comments and in ``EXPECTED``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounts.roles import ADMIN, MANAGER
from ai_processing.models import ProcessingPreset
from events.models import Event
from orders import services as order_services
from orders.models import Image, Order
from tests.conftest import make_user

UTC = dt.UTC
D0 = dt.date(2025, 3, 9)  # the day before the range
D1 = dt.date(2025, 3, 10)
D2 = dt.date(2025, 3, 11)
D3 = dt.date(2025, 3, 12)
D4 = dt.date(2025, 3, 13)  # the day after the range
RANGE = {"start": D1.isoformat(), "end": D3.isoformat()}


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=UTC)


def step(provider: str, outcome: str) -> dict[str, Any]:
    return {"provider": provider, "outcome": outcome, "reason": "", "elapsed_ms": 1.0}


@dataclass
class World:
    event_a: Event
    event_b: Event
    admin: Any
    manager: Any
    orders: dict[str, Order] = field(default_factory=dict)
    images: dict[str, Image] = field(default_factory=dict)


def _order(world: World, name: str, event: Event, created: dt.datetime, **kwargs: Any) -> Order:
    completed = kwargs.pop("completed", None)
    order = order_services.create_order(
        actor=world.manager, event=event, customer_name=f"Customer {name}", **kwargs
    )
    fields: dict[str, Any] = {"created_at": created}
    if completed is not None:
        fields.update(status=Order.Status.COMPLETED, completed_at=completed)
    Order.objects.filter(pk=order.pk).update(**fields)
    order.refresh_from_db()
    world.orders[name] = order
    return order


def _image(
    world: World,
    name: str,
    order: Order,
    created: dt.datetime,
    *,
    cost: str = "0",
    status: str = Image.Status.PROCESSED,
    trail: dict[str, list[dict[str, Any]]] | None = None,
) -> Image:
    image = Image.objects.create(
        order=order,
        original=f"originals/{order.pk}/{name}.jpg",
        original_filename=f"{name}.jpg",
        status=status,
        ai_cost=Decimal(cost),
        ai_metadata={"trail": trail} if trail is not None else {},
    )
    Image.objects.filter(pk=image.pk).update(created_at=created)
    image.refresh_from_db()
    world.images[name] = image
    return image


def build_world(event_a: Event) -> World:
    """The scenario the number tests assert on (days D1..D3 of March 2025, UTC).

    Orders (created → completed):
      a1  A  D1 23:50 → D2 00:00   10 min   preset Wedding
      a2  A  D1 23:40 → D2 00:00   20 min
      b1  B  D1 23:30 → D2 00:00   30 min   preset School
      a3  A  D2 08:00 → D2 08:40   40 min
      b2  B  D2 23:00 → D3 00:30   90 min   preset School
      a4  A  D3 09:00   (processing)
      old A  D0 (before the range) and late A D4 (after): never counted
    Images (day received, cost, trail → fallback?, review?):
      i1 a1 D1 0.10 ok                           -        -
      i2 a1 D1 0.05 unavailable → ok             fallback -
      i3 a1 D1 0    all unavailable, in review   fallback review
      i4 b1 D1 0.20 unsupported → ok             -        -
      i5 a3 D2 0.25 cache; reviewed then approved -       review (timeline)
      i6 b2 D2 0.30 circuit_open, error → ok     fallback -
      i7 b2 D2 0    rejected at ingest           -        -
      x1 old D0 9.99 fallback, x2 late D4 5.00 review: outside the range
    """
    event_b = Event.objects.create(event_id="EVT-B-ANALYTICS", name="Second event")
    world = World(
        event_a=event_a,
        event_b=event_b,
        admin=make_user(ADMIN),
        manager=make_user(MANAGER),
    )
    wedding = ProcessingPreset.objects.create(
        name="Wedding retouch", slug="wedding-retouch-analytics", operations=["analyze"]
    )
    school = ProcessingPreset.objects.create(
        name="School", slug="school-analytics", operations=["analyze"]
    )

    a1 = _order(world, "a1", event_a, at(D1, 23, 50), completed=at(D2, 0), preset=wedding)
    _order(world, "a2", event_a, at(D1, 23, 40), completed=at(D2, 0))
    b1 = _order(world, "b1", event_b, at(D1, 23, 30), completed=at(D2, 0), preset=school)
    a3 = _order(world, "a3", event_a, at(D2, 8), completed=at(D2, 8, 40))
    b2 = _order(world, "b2", event_b, at(D2, 23), completed=at(D3, 0, 30), preset=school)
    _order(world, "a4", event_a, at(D3, 9))
    old = _order(world, "old", event_a, at(D0, 23, 59), completed=at(D0, 23, 59))
    late = _order(world, "late", event_a, at(D4, 0, 0))

    _image(world, "i1", a1, at(D1, 9, 5), cost="0.10", trail={"analyze": [step("runware", "ok")]})
    _image(
        world,
        "i2",
        a1,
        at(D1, 9, 6),
        cost="0.05",
        trail={"analyze": [step("runware", "unavailable"), step("gemini", "ok")]},
    )
    _image(
        world,
        "i3",
        a1,
        at(D1, 9, 7),
        status=Image.Status.NEEDS_REVIEW,
        trail={"analyze": [step("runware", "unavailable"), step("gemini", "unavailable")]},
    )
    _image(
        world,
        "i4",
        b1,
        at(D1, 23, 59),
        cost="0.20",
        trail={"caption": [step("local", "unsupported"), step("gemini", "ok")]},
    )
    # i5 goes to review and back through the real service: the timeline is what counts.
    i5 = _image(
        world,
        "i5",
        a3,
        at(D2, 0, 0),
        cost="0.25",
        status=Image.Status.INGESTED,
        trail={"analyze": [step("runware", "cache")]},
    )
    order_services.change_image_status(i5, Image.Status.NEEDS_REVIEW, actor=world.admin)
    order_services.change_image_status(i5, Image.Status.PROCESSED, actor=world.admin)
    _image(
        world,
        "i6",
        b2,
        at(D2, 12, 30),
        cost="0.30",
        trail={
            "analyze": [step("runware", "ok")],
            "edit": [
                step("runware", "circuit_open"),
                step("gemini", "error"),
                step("local", "ok"),
            ],
        },
    )
    _image(world, "i7", b2, at(D2, 12, 31), status=Image.Status.REJECTED)
    _image(
        world,
        "x1",
        old,
        at(D0, 23, 59),
        cost="9.99",
        trail={"analyze": [step("runware", "error"), step("local", "ok")]},
    )
    _image(world, "x2", late, at(D4, 0, 0), cost="5.00", status=Image.Status.NEEDS_REVIEW)
    return world


#: The dashboard over D1..D3 for someone who sees every order (hand-computed above).
EXPECTED_DAYS = [
    {
        "date": "2025-03-10",
        "orders": 3,
        "images": 4,
        "orders_completed": 0,
        "completion_median_s": None,
        "completion_p90_s": None,
        "ai_cost_usd": 0.35,
        "fallback_images": 2,
        "review_images": 1,
        "fallback_or_review_images": 2,
        "fallback_share": 0.5,
        "review_share": 0.25,
        "fallback_or_review_share": 0.5,
        "pmr_backlog": 0,
        "pmr_failures": 0,
    },
    {
        "date": "2025-03-11",
        "orders": 2,
        "images": 3,
        "orders_completed": 4,
        # 10, 20, 30, 40 min: median 25 min; p90 at 0.9 * 3 = 2.7 → 30 + 0.7 * 10 = 37 min
        "completion_median_s": 1500.0,
        "completion_p90_s": 2220.0,
        "ai_cost_usd": 0.55,
        "fallback_images": 1,
        "review_images": 1,
        "fallback_or_review_images": 2,
        "fallback_share": 0.3333,
        "review_share": 0.3333,
        "fallback_or_review_share": 0.6667,
        "pmr_backlog": 0,
        "pmr_failures": 0,
    },
    {
        "date": "2025-03-12",
        "orders": 1,
        "images": 0,
        "orders_completed": 1,
        "completion_median_s": 5400.0,
        "completion_p90_s": 5400.0,
        "ai_cost_usd": 0.0,
        "fallback_images": 0,
        "review_images": 0,
        "fallback_or_review_images": 0,
        "fallback_share": None,
        "review_share": None,
        "fallback_or_review_share": None,
        "pmr_backlog": 0,
        "pmr_failures": 0,
    },
]

EXPECTED_TOTALS = {
    "orders": 6,
    "images": 7,
    "orders_completed": 5,
    # 10, 20, 30, 40, 90 min: median 30 min; p90 at 0.9 * 4 = 3.6 → 40 + 0.6 * 50 = 70 min
    "completion_median_s": 1800.0,
    "completion_p90_s": 4200.0,
    "ai_cost_usd": 0.9,
    "fallback_images": 3,
    "review_images": 2,
    "fallback_or_review_images": 4,
    "fallback_share": 0.4286,
    "review_share": 0.2857,
    "fallback_or_review_share": 0.5714,
    "pmr_backlog": 0,
    "pmr_failures": 0,
}

EXPECTED_PRESETS = [
    {"preset": "School", "images": 3, "ai_cost_usd": 0.5},
    {"preset": "(no preset: default)", "images": 1, "ai_cost_usd": 0.25},
    {"preset": "Wedding retouch", "images": 3, "ai_cost_usd": 0.15},
]
