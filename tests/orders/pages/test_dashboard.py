"""The dashboard: open orders with progress, recent activity, counters; bounded queries."""

from __future__ import annotations

import pytest

from orders import selectors, services
from orders.models import Order

pytestmark = pytest.mark.django_db


def test_open_orders_exclude_completed_and_cancelled(client, users, make_order):
    user = users["User"]
    draft = make_order(user)
    done = make_order(user)
    cancelled = make_order(user)
    Order.objects.filter(pk=done.pk).update(status=Order.Status.COMPLETED)
    services.change_order_status(cancelled, Order.Status.CANCELLED, actor=user)
    client.force_login(user)
    response = client.get("/")
    assert [o.order_ref for o in response.context["orders"]] == [draft.order_ref]
    counters = {value: n for value, _label, n in response.context["counters"]}
    assert counters["completed"] == counters["cancelled"] == counters["draft"] == 1
    assert response.context["total"] == 3
    html = response.content.decode()
    assert 'data-testid="count-total">3<' in html


def test_progress_bars_show_ingested_and_processed(client, users, make_order):
    order = make_order(users["User"])
    Order.objects.filter(pk=order.pk).update(total_images=10, ingested_images=7, processed_images=3)
    client.force_login(users["User"])
    html = client.get("/").content.decode()
    assert '<progress max="10" value="7">' in html
    assert '<progress max="10" value="3">' in html
    assert "Ingested 7/10" in html
    assert "Processed 3/10" in html


def test_recent_activity_only_from_visible_orders(client, users, make_order):
    mine = make_order(users["User"], customer_name="Mine")
    theirs = make_order(users["other"], customer_name="Theirs")
    services.change_order_status(mine, Order.Status.PENDING, actor=users["User"], reason="go")
    client.force_login(users["User"])
    activity = client.get("/").context["activity"]
    assert {e.order_id for e in activity} == {mine.pk}
    assert activity[0].text == "Status Draft → Pending (go)"
    client.force_login(users["Viewer"])
    activity = client.get("/").context["activity"]
    assert {e.order_id for e in activity} == {mine.pk, theirs.pk}


def test_more_open_orders_than_shown_links_to_the_list(client, users, make_order):
    for _ in range(selectors.DASHBOARD_ORDERS + 2):
        make_order(users["User"])
    client.force_login(users["User"])
    response = client.get("/")
    assert len(response.context["orders"]) == selectors.DASHBOARD_ORDERS
    assert "/orders/?status=open" in response.content.decode()


def test_dashboard_queries_are_bounded(client, users, make_order, django_assert_max_num_queries):
    for i in range(30):
        order = make_order(users["Manager"] if i % 2 else users["User"], assigned_to=None)
        services.record_event(order, "order.updated", {"fields": ["notes"]}, users["Manager"])
    for who in ("User", "Manager"):
        client.force_login(users[who])
        # 7 for the page, 4 for "Needs attention" (orders, awaiting approval, PMR waiting, PMR
        # refused), 1 for the bell's unread count.
        with django_assert_max_num_queries(12):
            assert client.get("/").status_code == 200
