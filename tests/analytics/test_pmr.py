"""PMR backlog and failures: empty with a note until the PMR app has its outbox model.

The PMR outbox is being built in its own issue. Until ``pmr.OutboxEntry`` exists
the dashboard says so; the path that reads it is exercised here with a stand-in
table that has the same shape (an order, a creation time, a status):
``orders.Upload``.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.utils import timezone

from analytics import selectors
from orders.models import Order, Upload

from .world import D1, D2, D3, RANGE, at

pytestmark = pytest.mark.django_db


def test_without_the_outbox_model_the_series_is_empty_with_a_note(world):
    with pytest.raises(LookupError):  # the autouse fixture points at a model that is not there
        apps.get_model(*selectors.PMR_OUTBOX_MODEL)
    series = selectors.pmr_backlog(Order.objects.all(), selectors.Filters(start=D1, end=D3))
    assert series.available is False
    assert series.note == "PMR delivery data not available yet."
    assert series.backlog == {}
    assert series.backlog_total is None


def test_a_model_without_the_expected_fields_is_not_used(monkeypatch, world):
    monkeypatch.setattr(selectors, "PMR_OUTBOX_MODEL", ("events", "Event"))
    series = selectors.pmr_backlog(Order.objects.all(), selectors.Filters(start=D1, end=D3))
    assert series.available is False


@pytest.mark.real_pmr_outbox
def test_the_wiring_names_the_pmr_apps_outbox_model():
    """Once the PMR app has its outbox, analytics reads it (skipped until the model exists)."""
    try:
        model = apps.get_model("pmr", "OutboxEntry")
    except LookupError:
        pytest.skip("pmr.OutboxEntry does not exist yet (the PMR issue adds it)")
    assert selectors._outbox_model() is model
    states = {value for value, _ in model._meta.get_field(selectors.PMR_FIELDS["status"]).choices}
    assert set(selectors.PMR_PENDING_STATUSES) <= states
    assert set(selectors.PMR_FAILED_STATUSES) <= states


@pytest.fixture
def stand_in_outbox(monkeypatch, world):
    """``orders.Upload`` plays the outbox: open = waiting, aborted = failed, complete = sent."""
    monkeypatch.setattr(selectors, "PMR_OUTBOX_MODEL", ("orders", "Upload"))
    monkeypatch.setattr(selectors, "PMR_FIELDS", {**selectors.PMR_FIELDS, "status": "status"})
    monkeypatch.setattr(selectors, "PMR_PENDING_STATUSES", ("open",))
    monkeypatch.setattr(selectors, "PMR_FAILED_STATUSES", ("aborted",))
    entries = [
        ("a1", D1, "open"),
        ("a1", D1, "aborted"),
        ("b1", D1, "open"),
        ("a3", D2, "complete"),
        ("b2", D2, "aborted"),
        ("a4", D3, "open"),
        ("old", D1.replace(day=1), "open"),  # before the range
    ]
    for name, day, status in entries:
        upload = Upload.objects.create(
            order=world.orders[name],
            created_by=world.manager,
            filename="x.jpg",
            size=1,
            offset=1 if status == "complete" else 0,
            status=status,
        )
        Upload.objects.filter(pk=upload.pk).update(created_at=at(day, 12))
    return world


def test_with_an_outbox_the_series_counts_waiting_and_failed_per_day(client, stand_in_outbox):
    world = stand_in_outbox
    client.force_login(world.manager)
    data = client.get("/analytics/data.json", RANGE).json()

    assert data["pmr"] == {"available": True, "note": ""}
    assert [d["pmr_backlog"] for d in data["days"]] == [2, 0, 1]
    assert [d["pmr_failures"] for d in data["days"]] == [1, 1, 0]
    assert data["totals"]["pmr_backlog"] == 3
    assert data["totals"]["pmr_failures"] == 2

    page = client.get("/analytics/", RANGE).content.decode()
    assert '<canvas id="chart-pmr"' in page
    assert "PMR delivery data not available yet." not in page


def test_outbox_entries_follow_the_event_filter_and_the_access_scope(client, stand_in_outbox):
    world = stand_in_outbox
    client.force_login(world.manager)
    data = client.get("/analytics/data.json", {**RANGE, "event": world.event_b.event_id}).json()
    assert [d["pmr_backlog"] for d in data["days"]] == [1, 0, 0]  # b1
    assert [d["pmr_failures"] for d in data["days"]] == [0, 1, 0]  # b2

    # A user's scope: only own and assigned orders' entries.
    from django.contrib.auth.models import AnonymousUser

    filters = selectors.Filters(start=D1, end=D3)
    nobody = selectors.pmr_backlog(selectors.visible_orders(AnonymousUser(), filters), filters)
    assert nobody.available is True
    assert nobody.backlog_total == 0
    assert timezone.is_aware(filters.bounds()[0])


@pytest.mark.real_pmr_outbox
def test_the_real_outbox_is_counted(client, world):
    """Against ``pmr.OutboxEntry`` itself (skipped until the model exists)."""
    try:
        model = apps.get_model("pmr", "OutboxEntry")
    except LookupError:
        pytest.skip("pmr.OutboxEntry does not exist yet (the PMR issue adds it)")
    model.objects.all().delete()  # only this test's entries, whatever the services queued
    rows = [("a1", D1, "pending"), ("b1", D1, "failed"), ("a3", D2, "done"), ("b2", D3, "pending")]
    for n, (name, day, state) in enumerate(rows):
        entry = model.objects.create(
            order=world.orders[name],
            kind="order.put",
            idempotency_key=f"analytics-{n}",
            state=state,
        )
        model.objects.filter(pk=entry.pk).update(created_at=at(day, 12))

    client.force_login(world.manager)
    data = client.get("/analytics/data.json", RANGE).json()
    assert data["pmr"]["available"] is True
    assert [d["pmr_backlog"] for d in data["days"]] == [1, 0, 1]
    assert [d["pmr_failures"] for d in data["days"]] == [1, 0, 0]
