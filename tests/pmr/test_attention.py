"""The PMR's part of the dashboard's "Needs attention": the PMR unreachable (since when, what
waits), and writes it refused (the event closed in the PMR), per role; each item goes away
when its cause clears. Drained in this process against a closed port, then the simulator."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from orders import attention, live
from orders.models import Order
from pmr import connection as pmr_connection
from pmr import drain, services
from pmr.models import OrderDelivery, OutboxEntry

from .conftest import clean_pmr_redis

pytestmark = pytest.mark.django_db
DOWN_URL = "http://127.0.0.1:9"  # nothing listens: connection refused at once


def _items(user) -> dict[str, attention.Item]:
    return {item.key: item for item in attention.collect(user).items}


def _urls(item: attention.Item) -> list[str]:
    return [link.url for link in item.links]


@pytest.fixture
def pmr_down(settings, sim):
    """The PMR does not answer (the simulator runs, but the settings point elsewhere); one
    failure opens its circuit for a second."""
    settings.PMR_BASE_URL = DOWN_URL
    settings.PMR_CLIENT_ATTEMPTS = 1
    settings.PMR_BREAKER_FAILURES = 1
    settings.PMR_BREAKER_COOLDOWN_SECONDS = 1
    clean_pmr_redis(settings.REDIS_URL)

    def back_up() -> None:
        settings.PMR_BASE_URL = sim.base_url
        time.sleep(1.2)  # the circuit's cool-down, and the rows it postponed

    return back_up


def test_pmr_down_says_since_when_and_what_waits_then_clears(
    pmr_down, pmr_event, ai_done_order, users
):
    order = ai_done_order(2, owner=users["User"])
    result = drain.drain_order(order.pk)
    assert result.sent == 0
    delivery = OrderDelivery.objects.get(order=order)
    assert delivery.waiting_since is not None
    circuit = pmr_connection.breaker().state(pmr_connection.BREAKER_NAME)
    assert circuit["state"] == "open"

    item = _items(users["Manager"])["pmr.unreachable"]
    assert item.level == "warning"
    assert item.text.startswith("The PMR is not answering (since ")
    assert item.text.endswith(
        "1 order waits to be delivered, with 2 images (6 writes); they go by themselves when "
        "it answers again."
    )
    # Since the earliest sign: the circuit may have opened a moment (and a minute) before.
    moments = [delivery.waiting_since]
    if circuit.get("down_since"):
        moments.append(dt.datetime.fromtimestamp(circuit["down_since"], tz=dt.UTC))
    started = attention.since(min(moments))
    assert started in item.text
    assert _urls(item) == [
        "/admin/pmr/outboxentry/?state__exact=pending",
        f"/orders/{order.order_ref}/",
    ]
    flags = attention.collect(users["Manager"]).flags
    assert flags[order.pk].startswith("Waiting for the PMR since ")

    user_item = _items(users["User"])["pmr.unreachable"]
    assert "1 of your orders waits to be delivered" in user_item.text
    assert _urls(user_item) == [f"/orders/{order.order_ref}/"]  # no back office
    viewer_item = _items(users["Viewer"])["pmr.unreachable"]
    assert "/admin/" not in " ".join(_urls(viewer_item))
    stranger = _items(users["other"])["pmr.unreachable"]  # the outage, but none of theirs
    assert stranger.text.endswith("Nothing waits for it yet; deliveries wait until it answers.")

    pmr_down()  # the PMR answers again
    result = drain.drain_order(order.pk)
    assert not result.blocked
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert "pmr.unreachable" not in _items(users["Manager"])
    assert order.pk not in attention.collect(users["Manager"]).flags


def test_a_refused_write_needs_attention_with_its_reason_until_it_is_retried(
    sim, pmr_event, ai_done_order, users, client
):
    order = ai_done_order(3, owner=users["User"])
    sim.add_events([{"event_id": pmr_event.event_id, "name": "x", "status": "closed"}], [])
    assert drain.drain_order(order.pk).blocked
    ref, event_id = order.order_ref, pmr_event.event_id

    item = _items(users["Manager"])[f"pmr.refused.{ref}"]
    assert item.level == "error"
    assert item.text == (
        f"The PMR refused the order's details of order {ref}: event {event_id} is closed in "
        "the PMR. Its delivery stops until you retry or skip the write."
    )
    assert _urls(item) == [
        f"/orders/{ref}/",
        f"/admin/pmr/outboxentry/?state__exact=failed&q={ref}",
    ]
    flag = attention.collect(users["Manager"]).flags[order.pk]
    assert flag == (
        f"The PMR refused the order's details: event {event_id} is closed in the PMR. "
        "Its delivery waits for a manager."
    )
    # The dashboard: the order is still "Processing", and visibly needs attention.
    client.force_login(users["Manager"])
    html = client.get("/").content.decode()
    row = html.split(f'data-ref="{ref}"')[1].split("</tr>")[0]
    assert "Processing" in row
    assert escape(flag) in row
    assert 'data-testid="count-attention">1<' in html
    assert "/admin/pmr/outboxentry/?state__exact=failed&amp;q=" in html

    owner_item = _items(users["User"])[f"pmr.refused.{ref}"]
    assert owner_item.text.endswith("Its delivery stops until a manager retries or skips it.")
    assert _urls(owner_item) == [f"/orders/{ref}/"]
    assert f"pmr.refused.{ref}" not in _items(users["other"])

    # Cheap enough to send live: a few queries with every PMR item on.
    live.dashboard_snapshot(users["Manager"])
    with CaptureQueriesContext(connection) as queries:
        snapshot = live.dashboard_snapshot(users["Manager"])
    assert len(queries) <= 10, [q["sql"][:100] for q in queries]
    assert snapshot["attention"]["orders"] == 1
    assert snapshot["orders"][0]["attention"] == flag

    # Fixed in the PMR, retried by a manager: the item goes.
    sim.add_events([{"event_id": event_id, "name": "x", "status": "open"}], [])
    failed = OutboxEntry.objects.get(order=order, state=OutboxEntry.State.FAILED)
    services.retry_entry(failed, actor=users["Manager"])
    assert not drain.drain_order(order.pk).blocked
    assert f"pmr.refused.{ref}" not in _items(users["Manager"])
    assert order.pk not in attention.collect(users["Manager"]).flags
