"""PMR backlog and failures: the dashboard counts the PMR app's outbox (``pmr.OutboxEntry``)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from analytics import selectors
from pmr.models import OutboxEntry

from .world import D1, D2, D3, RANGE, at

pytestmark = pytest.mark.django_db

State = OutboxEntry.State


@pytest.fixture
def outbox(world):
    """Outbox rows of the world's orders on known days: pending waits, failed waits for a person,
    done and skipped count as neither."""
    OutboxEntry.objects.all().delete()  # only this test's rows, whatever the services queued
    rows = [
        ("a1", D1, State.PENDING),
        ("a1", D1, State.FAILED),
        ("b1", D1, State.PENDING),
        ("a3", D2, State.DONE),
        ("a3", D2, State.SKIPPED),
        ("b2", D2, State.FAILED),
        ("a4", D3, State.PENDING),
        ("a1", D1.replace(day=1), State.PENDING),  # before the range
    ]
    for n, (name, day, state) in enumerate(rows):
        entry = OutboxEntry.objects.create(
            order=world.orders[name],
            kind=OutboxEntry.Kind.ORDER_STATUS,
            idempotency_key=f"analytics-{n}",
            state=state,
        )
        OutboxEntry.objects.filter(pk=entry.pk).update(created_at=at(day, 12))
    return world


def test_the_series_counts_waiting_and_failed_entries_per_day_queued(client, outbox):
    client.force_login(outbox.manager)
    data = client.get("/analytics/data.json", RANGE).json()

    assert [d["pmr_backlog"] for d in data["days"]] == [2, 0, 1]
    assert [d["pmr_failures"] for d in data["days"]] == [1, 1, 0]
    assert data["totals"]["pmr_backlog"] == 3
    assert data["totals"]["pmr_failures"] == 2
    page = client.get("/analytics/", RANGE).content.decode()
    assert '<canvas id="chart-pmr"' in page


def test_entries_follow_the_event_filter_and_the_access_scope(client, outbox):
    client.force_login(outbox.manager)
    data = client.get("/analytics/data.json", {**RANGE, "event": outbox.event_b.event_id}).json()
    assert [d["pmr_backlog"] for d in data["days"]] == [1, 0, 0]  # b1
    assert [d["pmr_failures"] for d in data["days"]] == [0, 1, 0]  # b2

    filters = selectors.Filters(start=D1, end=D3)
    nobody = selectors.pmr_backlog(selectors.visible_orders(AnonymousUser(), filters), filters)
    assert nobody.backlog_total == 0
    assert nobody.failures_total == 0


def test_without_entries_the_columns_are_zero_not_empty(client, world):
    OutboxEntry.objects.all().delete()
    client.force_login(world.manager)
    data = client.get("/analytics/data.json", RANGE).json()
    assert [d["pmr_backlog"] for d in data["days"]] == [0, 0, 0]
    assert data["totals"]["pmr_failures"] == 0
