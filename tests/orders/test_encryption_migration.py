"""The data migration that encrypts the orders' personal data, forward and back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from orders.models import Order
from utilities.encrypted_fields import email_hash

BEFORE = [("orders", "0009_awaiting_approval")]


def _raw(pk: int, columns: str) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM orders_order WHERE id = %s", [pk])
        return cursor.fetchone()


def _migrate(target: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


def _migrate_to_latest() -> None:
    """Every app forward to its newest migration (the tests after this one need them all)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_existing_rows_are_encrypted_and_the_migration_goes_back(users, make_order):
    order = make_order(
        users["User"], customer_name="Ada Byron", customer_email="ada@example.org", notes="n1"
    )
    bare = make_order(users["User"], customer_name="No Mail")
    try:
        _migrate(BEFORE)
        # Back: plain text again, in the columns as they were.
        assert _raw(order.pk, "customer_name, customer_email, notes") == (
            "Ada Byron",
            "ada@example.org",
            "n1",
        )
        assert _raw(bare.pk, "customer_email, notes") == ("", "")
        with connection.cursor() as cursor:
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, "orders_order")
            ]
        assert "customer_email_hash" not in columns
        # An order written before the migration, in plain text.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE orders_order SET customer_name = %s, customer_email = %s WHERE id = %s",
                ["Grace Hopper", "GRACE@navy.example", bare.pk],
            )
    finally:
        _migrate_to_latest()
    name, email, _notes, digest = _raw(
        bare.pk, "customer_name, customer_email, notes, customer_email_hash"
    )
    assert "Grace" not in name
    assert "grace" not in email.lower()
    assert digest == email_hash("grace@navy.example")
    fresh = Order.objects.get(pk=bare.pk)
    assert (fresh.customer_name, fresh.customer_email) == ("Grace Hopper", "GRACE@navy.example")
    assert list(Order.objects.for_customer_email("grace@NAVY.example")) == [fresh]
    assert Order.objects.get(pk=order.pk).customer_name == "Ada Byron"


@pytest.mark.django_db(transaction=True)
def test_the_notifications_migration_goes_back_and_forth(users, make_order):
    from notifications.models import CustomerEmail, PushSubscription

    order = make_order(users["User"], customer_email="ada@example.org")
    mail = CustomerEmail.objects.create(order=order, to="ada@example.org", subject="S", body="B")
    sub = PushSubscription.objects.create(
        user=users["User"], endpoint="https://push.example/1", p256dh="P", auth="A"
    )
    sql = 'SELECT "to", subject, body FROM notifications_customeremail WHERE id = %s'
    try:
        _migrate([("notifications", "0002_approval_kinds")])
        with connection.cursor() as cursor:
            cursor.execute(sql, [mail.pk])
            assert cursor.fetchone() == ("ada@example.org", "S", "B")
            cursor.execute(
                "SELECT p256dh, auth FROM notifications_pushsubscription WHERE id = %s", [sub.pk]
            )
            assert cursor.fetchone() == ("P", "A")
    finally:
        _migrate_to_latest()
    with connection.cursor() as cursor:
        cursor.execute(sql, [mail.pk])
        assert "ada@" not in " ".join(cursor.fetchone())
    assert CustomerEmail.objects.get(pk=mail.pk).to == "ada@example.org"
    assert PushSubscription.objects.get(pk=sub.pk).auth == "A"
