"""The dashboard's counters per status (orders.tallies): right for every role, and read
without counting the orders, however many there are."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import selectors, services, tallies
from orders.models import Order, OrderStatusTally

pytestmark = pytest.mark.django_db

NOW = timezone.now()
WHO = ("Admin", "Manager", "Viewer", "User", "other", "norole")


def counted(user) -> dict[str, int]:
    counters, total = selectors.status_counters(user)
    by_status = {value: n for value, _label, n in counters if n}
    assert total == sum(by_status.values())
    return by_status


def truth(user) -> dict[str, int]:
    """What the dashboard counted before: a GROUP BY over the orders the user may see."""
    rows = (
        Order.objects.visible_to(user)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return dict(rows)


@pytest.fixture
def busy(users, make_order):
    """Orders of several people moved by every write path the ORM has."""
    user, other, manager = users["User"], users["other"], users["Manager"]
    mine = [make_order(user) for _ in range(4)]
    theirs = [make_order(other) for _ in range(2)]
    make_order(manager, assigned_to=user)  # assigned to User: theirs to see
    make_order(user, assigned_to=user)  # created and assigned: counted once
    services.change_order_status(mine[0], Order.Status.PENDING, actor=user)
    services.change_order_status(mine[1], Order.Status.CANCELLED, actor=user)
    Order.objects.filter(pk=mine[2].pk).update(status=Order.Status.COMPLETED)  # a bulk update
    Order.objects.filter(pk=theirs[0].pk).update(assigned_to=user)  # now User's to see too
    moved = Order.objects.get(pk=theirs[1].pk)
    moved.assigned_to = manager
    moved.save()
    Order.objects.get(pk=mine[3].pk).delete()
    event = mine[0].event
    Order.objects.bulk_create(
        [
            Order(
                event=event,
                created_by=other,
                customer_name="B",
                order_ref=f"ORD-B-{i}",
                order_date=NOW,
            )
            for i in range(3)
        ]
    )
    return users


@pytest.mark.parametrize("who", WHO)
def test_each_role_counts_exactly_the_orders_it_may_see(busy, who):
    viewer = busy[who]
    assert counted(viewer) == truth(viewer)
    tallies.compact()
    assert counted(viewer) == truth(viewer)


def test_a_user_counts_own_and_assigned_orders_once(busy):
    assert counted(busy["User"]) == {
        "draft": 3,  # made and assigned to User, assigned by Manager, reassigned from other
        "pending": 1,
        "cancelled": 1,
        "completed": 1,
    }
    assert counted(busy["other"]) == {"draft": 5}  # 2 made + 3 bulk-created
    assert counted(busy["norole"]) == {}
    assert sum(counted(busy["Viewer"]).values()) == Order.objects.count() == 10


def test_counters_are_read_without_touching_the_orders(users, make_order):
    """One query on the counters' table, over at most one row per status once compacted,
    with 20 orders or 2,020: the cost does not grow with the orders."""
    user, manager = users["User"], users["Manager"]
    for _ in range(20):
        make_order(user)
    event = Order.objects.first().event
    sizes = {}
    for extra in (0, 2000):
        Order.objects.bulk_create(
            [
                Order(
                    event=event,
                    created_by=user,
                    customer_name="B",
                    order_ref=f"ORD-X{extra}-{i}",
                    order_date=NOW,
                )
                for i in range(extra)
            ]
        )
        tallies.compact()
        for viewer, scope in ((manager, tallies.ALL), (user, user.pk)):
            selectors.status_counters(viewer)  # permissions cached, as on a page
            with CaptureQueriesContext(connection) as queries:
                _counters, total = selectors.status_counters(viewer)
            assert len(queries) == 1
            assert '"orders_order"' not in queries[0]["sql"]
            assert "orders_orderstatustally" in queries[0]["sql"]
            assert total == Order.objects.count()
            sizes[(extra, scope)] = OrderStatusTally.objects.filter(scope=scope).count()
    assert sizes[(0, tallies.ALL)] == sizes[(2000, tallies.ALL)] == 1  # all drafts
    assert sizes[(0, user.pk)] == sizes[(2000, user.pk)] == 1


def test_compaction_keeps_the_sums_and_rebuild_agrees(busy):
    before = {who: counted(busy[who]) for who in WHO}
    rows = OrderStatusTally.objects.count()
    assert tallies.compact() == rows
    assert tallies.compact() == 0  # nothing left to fold
    assert OrderStatusTally.objects.filter(delta=0).count() == 0
    assert {who: counted(busy[who]) for who in WHO} == before
    tallies.rebuild()
    assert {who: counted(busy[who]) for who in WHO} == before


def test_a_refused_change_leaves_the_counters_as_they_were(users, make_order):
    from utilities.errors import TransitionNotAllowed

    order = make_order(users["User"])
    before = counted(users["Manager"])
    with pytest.raises(TransitionNotAllowed):
        services.change_order_status(order, Order.Status.COMPLETED, actor=users["Manager"])
    assert counted(users["Manager"]) == before == {"draft": 1}
