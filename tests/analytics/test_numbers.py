"""The dashboard's numbers, exactly: per-day counts, completion percentiles, AI cost per day
and per preset, fallback and review shares, the date range and event filters, and the scope."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone

from accounts.roles import USER, VIEWER
from analytics import selectors
from orders import services as order_services
from orders.models import Image, Order
from tests.conftest import make_user

from .world import (
    D1,
    D2,
    D3,
    EXPECTED_DAYS,
    EXPECTED_PRESETS,
    EXPECTED_TOTALS,
    RANGE,
    at,
    step,
)

pytestmark = pytest.mark.django_db

URL = "/analytics/data.json"


def fetch(client, user, **params):
    client.force_login(user)
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_every_figure_over_the_range(client, world):
    viewer = make_user(VIEWER)
    data = fetch(client, viewer, **RANGE)

    assert data["start"] == "2025-03-10"
    assert data["end"] == "2025-03-12"
    assert data["event"] is None
    assert data["timezone"] == "UTC"
    assert data["days"] == EXPECTED_DAYS
    assert data["totals"] == EXPECTED_TOTALS
    assert data["presets"] == EXPECTED_PRESETS


def test_event_filter_counts_only_that_events_orders_and_images(client, world):
    data = fetch(client, world.manager, event=world.event_a.event_id, **RANGE)

    assert data["event"] == world.event_a.event_id
    by_day = {d["date"]: d for d in data["days"]}
    # Orders of event A: a1, a2 on D1; a3 on D2; a4 on D3.
    assert [by_day[d]["orders"] for d in sorted(by_day)] == [2, 1, 1]
    # Images of event A: i1, i2, i3 on D1 (0.15 USD); i5 on D2 (0.25 USD).
    assert [by_day[d]["images"] for d in sorted(by_day)] == [3, 1, 0]
    assert [by_day[d]["ai_cost_usd"] for d in sorted(by_day)] == [0.15, 0.25, 0.0]
    assert by_day["2025-03-10"]["fallback_images"] == 2
    assert by_day["2025-03-10"]["review_images"] == 1
    assert by_day["2025-03-11"]["review_images"] == 1
    assert by_day["2025-03-11"]["fallback_or_review_share"] == 1.0
    # Completions of event A on D2: 10, 20, 40 min → median 20 min, p90 at 1.8 → 36 min.
    assert by_day["2025-03-11"]["orders_completed"] == 3
    assert by_day["2025-03-11"]["completion_median_s"] == 1200.0
    assert by_day["2025-03-11"]["completion_p90_s"] == 2160.0
    assert by_day["2025-03-12"]["orders_completed"] == 0
    assert by_day["2025-03-12"]["completion_median_s"] is None
    assert data["totals"]["orders"] == 4
    assert data["totals"]["ai_cost_usd"] == 0.4
    assert data["presets"] == [
        {"preset": "(no preset: default)", "images": 1, "ai_cost_usd": 0.25},
        {"preset": "Wedding retouch", "images": 3, "ai_cost_usd": 0.15},
    ]


def test_event_filter_accepts_the_id_in_another_case(client, world):
    data = fetch(client, world.manager, event=world.event_b.event_id.lower(), **RANGE)
    assert data["event"] == world.event_b.event_id
    assert data["totals"]["orders"] == 2  # b1, b2


def test_date_range_filter_bounds_every_series(client, world):
    data = fetch(client, world.manager, start=D2.isoformat(), end=D2.isoformat())

    assert [d["date"] for d in data["days"]] == ["2025-03-11"]
    assert data["days"][0] == EXPECTED_DAYS[1]
    assert data["totals"]["orders"] == 2
    assert data["totals"]["images"] == 3
    # Only D2's completions: the same four as the day row.
    assert data["totals"]["completion_median_s"] == 1500.0
    assert data["totals"]["completion_p90_s"] == 2220.0
    assert data["presets"] == [
        {"preset": "School", "images": 2, "ai_cost_usd": 0.3},
        {"preset": "(no preset: default)", "images": 1, "ai_cost_usd": 0.25},
    ]


def test_default_range_is_the_last_30_days_ending_today(client, event):
    manager = make_user("Manager")
    today = timezone.localdate()
    inside = order_services.create_order(actor=manager, event=event, customer_name="Inside")
    edge = order_services.create_order(actor=manager, event=event, customer_name="Edge")
    outside = order_services.create_order(actor=manager, event=event, customer_name="Outside")
    Order.objects.filter(pk=edge.pk).update(created_at=at(today - dt.timedelta(days=29), 0, 0))
    Order.objects.filter(pk=outside.pk).update(created_at=at(today - dt.timedelta(days=30), 23, 59))
    assert inside.created_at.date() == today

    data = fetch(client, manager)

    assert len(data["days"]) == 30
    assert data["days"][-1]["date"] == today.isoformat()
    assert data["days"][0]["date"] == (today - dt.timedelta(days=29)).isoformat()
    assert data["days"][0]["orders"] == 1
    assert data["days"][-1]["orders"] == 1
    assert data["totals"]["orders"] == 2


def test_a_user_with_analytics_but_no_wider_scope_sees_only_their_orders(client, world, event):
    """Analytics never reveal an order its viewer could not open (the one access rule)."""
    subject = make_user(USER)
    subject.user_permissions.add(
        Permission.objects.get(content_type__app_label="orders", codename="view_analytics")
    )
    subject = type(subject).objects.get(pk=subject.pk)
    own = order_services.create_order(actor=subject, event=event, customer_name="Own")
    Order.objects.filter(pk=own.pk).update(created_at=at(D1, 12))
    Image.objects.create(
        order=own, original="originals/own.jpg", original_filename="own.jpg", ai_cost="0.07"
    )
    Image.objects.filter(order=own).update(created_at=at(D1, 12, 5))
    # Assigned to them by the manager: visible too.
    Order.objects.filter(pk=world.orders["a2"].pk).update(assigned_to=subject)

    data = fetch(client, subject, **RANGE)

    assert data["totals"]["orders"] == 2  # own + a2; the world's other orders are invisible
    assert data["totals"]["images"] == 1
    assert data["totals"]["ai_cost_usd"] == 0.07
    assert data["totals"]["orders_completed"] == 1  # a2, 20 min
    assert data["totals"]["completion_median_s"] == 1200.0
    assert data["presets"] == [{"preset": "(no preset: default)", "images": 1, "ai_cost_usd": 0.07}]


def test_an_image_approved_after_review_still_counts_as_review(world):
    """i5 is processed now; its timeline says it went to review."""
    filters = selectors.Filters(start=D2, end=D2)
    reviewed = selectors.reviewed_images(Image.objects.all(), filters)
    assert reviewed == {D2: {world.images["i5"].pk}}
    assert Image.objects.get(pk=world.images["i5"].pk).status == Image.Status.PROCESSED


def test_days_follow_the_current_time_zone(client, world, settings):
    """With TIME_ZONE an hour east of UTC, i4 (D1 23:59 UTC) moves to D2 and x1 (D0 23:59 UTC,
    the day before the range) moves into it, on D1."""
    settings.TIME_ZONE = "Europe/Berlin"
    data = fetch(client, world.manager, **RANGE)
    by_day = {d["date"]: d for d in data["days"]}
    assert data["timezone"] == "Europe/Berlin"
    assert by_day["2025-03-10"]["images"] == 4  # i1, i2, i3, x1
    assert by_day["2025-03-11"]["images"] == 4  # i4, i5, i6, i7


# --- the pure helpers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.9, 7.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([40.0, 10.0, 30.0, 20.0], 0.5, 25.0),
        ([40.0, 10.0, 30.0, 20.0], 0.9, 37.0),
        ([10.0, 20.0, 30.0, 40.0, 90.0], 0.9, 70.0),
    ],
)
def test_percentile_interpolates_like_percentile_cont(values, fraction, expected):
    assert selectors.percentile(values, fraction) == pytest.approx(expected)


def test_percentile_agrees_with_the_standard_librarys_inclusive_quantiles():
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0]
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    assert selectors.percentile(values, 0.9) == pytest.approx(deciles[8])
    assert selectors.percentile(values, 0.5) == pytest.approx(statistics.median(values))


FALLBACK_CASES = [
    (None, False),
    ({}, False),
    ({"analyze": [step("runware", "ok")]}, False),
    ({"analyze": [step("runware", "cache")]}, False),
    ({"caption": [step("local", "unsupported"), step("gemini", "ok")]}, False),
    ({"analyze": [step("runware", "unavailable"), step("gemini", "ok")]}, True),
    ({"edit": [step("runware", "error"), step("local", "ok")]}, True),
    ({"edit": [step("runware", "circuit_open"), step("local", "ok")]}, True),
    ({"edit": [step("runware", "rejected"), step("local", "ok")]}, True),
    ({"analyze": [step("a", "ok")], "edit": [step("b", "unavailable")]}, True),
    ({"analyze": "not a list"}, False),
    # Only the outcome counts, not words in the reason.
    ({"analyze": [{"provider": "x", "outcome": "ok", "reason": "error", "elapsed_ms": 1}]}, False),
]


@pytest.mark.parametrize(("trails", "expected"), FALLBACK_CASES)
def test_needed_fallback(trails, expected):
    assert selectors.needed_fallback(trails) is expected


@pytest.mark.parametrize("in_database", [True, False])
def test_fallback_in_the_database_and_in_python_agree(world, in_database):
    """PostgreSQL's jsonb_path_exists and the Python walk (SQLite's way) find the same images."""
    if in_database and connection.vendor != "postgresql":
        pytest.skip("jsonb_path_exists is PostgreSQL's")
    extra = {}
    for n, (trails, _) in enumerate(FALLBACK_CASES):
        image = Image.objects.create(
            order=world.orders["a4"],
            original=f"originals/case{n}.jpg",
            original_filename=f"case{n}.jpg",
            ai_metadata={"trail": trails} if trails is not None else {"analyze": {}},
        )
        Image.objects.filter(pk=image.pk).update(created_at=at(D3, 10, n))
        extra[image.pk] = n
    found = selectors.fallback_images(
        Image.objects.all(), selectors.Filters(start=D1, end=D3), in_database=in_database
    )
    i = world.images
    assert found[D1] == {i["i2"].pk, i["i3"].pk}
    assert found[D2] == {i["i6"].pk}
    expected_cases = {pk for pk, n in extra.items() if FALLBACK_CASES[n][1]}
    assert found[D3] == expected_cases
    assert len(expected_cases) == sum(1 for _, fallback in FALLBACK_CASES if fallback)


def test_range_bounds_cover_whole_days_in_the_current_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    lo, hi = selectors.Filters(start=D1, end=D3).bounds()
    assert lo.isoformat() == "2025-03-10T00:00:00+01:00"
    assert hi.isoformat() == "2025-03-13T00:00:00+01:00"
