from orders.models import Order


def test_order_created_with_reference_and_timeline(users, make_order):
    order = make_order(users["User"])
    assert order.order_ref.startswith(f"ORD-{order.order_date.year}-")
    assert order.status == Order.Status.DRAFT
    assert list(order.timeline.values_list("seq", "kind")) == [(1, "order.created")]
