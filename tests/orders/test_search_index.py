"""The order search by part of a reference or an Event ID uses the trigram index on PostgreSQL
(orders/migrations/0012_trigram_search.py) instead of reading every order."""

from __future__ import annotations

import pytest
from django.db import connection

from orders import selectors
from orders.models import Order

pytestmark = pytest.mark.django_db


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a small table: ask what it could use
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm is PostgreSQL's")
def test_the_trigram_indexes_exist_and_serve_a_search_by_part_of_a_reference(users, make_order):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname IN "
            "('orders_order_ref_trgm', 'events_event_id_trgm')"
        )
        assert {row[0] for row in cursor.fetchall()} == {
            "orders_order_ref_trgm",
            "events_event_id_trgm",
        }
    order = make_order(users["Manager"])
    found = Order.objects.filter(order_ref__icontains=order.order_ref[-6:])
    assert list(found) == [order]


def test_the_order_list_search_finds_by_part_of_a_reference(users, make_order):
    order = make_order(users["Manager"])
    make_order(users["Manager"])
    visible = Order.objects.visible_to(users["Manager"])
    found = selectors.filter_orders(visible, {"q": order.order_ref[-6:].lower()})
    assert list(found) == [order]
