"""The dashboard's "Needs attention" panel: the orders' own items, the registry, per role.

The PMR's and the AI step's items are tested beside their apps (tests/pmr,
tests/ai_processing); here: images waiting for review and failed images, what
each role sees, that a failing provider costs only its part, the dashboard page
and the snapshot's query budget.
"""

from __future__ import annotations

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import attention, live, services
from orders.models import Image, Order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quiet_circuits(settings):
    """No PMR or AI outage left over from other tests (creating orders asks the PMR, which
    is unreachable in the tests, so its circuit opens now and then)."""

    def clean() -> None:
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = [*client.scan_iter("rkh:pmr:breaker*"), *client.scan_iter("rkh:ai:breaker*")]
        if keys:
            client.delete(*keys)

    clean()
    yield clean
    clean()


def _items(user) -> dict[str, attention.Item]:
    return {item.key: item for item in attention.collect(user).items}


def _with_images(order: Order, make_image, *statuses: str) -> list[Image]:
    images = [make_image(order, status) for status in statuses]
    services.refresh_image_counters(order.pk)
    return images


def test_images_waiting_for_review_appear_and_go(users, make_order, make_image, quiet_circuits):
    order = make_order(users["User"])
    Order.objects.filter(pk=order.pk).update(status=Order.Status.NEEDS_REVIEW)
    (image,) = _with_images(order, make_image, Image.Status.NEEDS_REVIEW)
    quiet_circuits()

    item = _items(users["Manager"])["orders.review"]
    assert item.level == "action"
    assert item.text == (
        "1 order needs review (1 image): approve, redo or replace them in the review queue."
    )
    assert [link.url for link in item.links] == ["/review/"]
    assert attention.collect(users["Manager"]).flags == {order.pk: "1 image waits for review."}

    services.change_image_status(image, Image.Status.PROCESSED, reason="approved")
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING)
    quiet_circuits()
    assert "orders.review" not in _items(users["Manager"])
    assert attention.collect(users["Manager"]).flags == {}


def test_failed_images_name_their_orders(users, make_order, make_image, quiet_circuits):
    first, second = make_order(users["User"]), make_order(users["User"])
    _with_images(first, make_image, Image.Status.FAILED, Image.Status.FAILED)
    _with_images(second, make_image, Image.Status.FAILED, Image.Status.NEEDS_REVIEW)
    quiet_circuits()
    item = _items(users["User"])["orders.failed_images"]
    assert item.level == "error"
    assert item.text == (
        "3 images failed in 2 of your orders. Open the order to see why and retry them."
    )
    assert {link.label for link in item.links} == {first.order_ref, second.order_ref}
    flags = attention.collect(users["User"]).flags
    assert flags[second.pk] == "1 image failed; 1 image waits for review."
    # A closed order's failures are history, not work.
    Order.objects.filter(pk__in=[first.pk, second.pk]).update(status=Order.Status.CANCELLED)
    assert "orders.failed_images" not in _items(users["User"])


def test_each_role_sees_its_own_share(users, make_order, make_image, quiet_circuits):
    mine = make_order(users["User"])
    theirs = make_order(users["other"])
    for order in (mine, theirs):
        Order.objects.filter(pk=order.pk).update(status=Order.Status.NEEDS_REVIEW)
        _with_images(order, make_image, Image.Status.NEEDS_REVIEW)
    quiet_circuits()

    user_item = _items(users["User"])["orders.review"]
    assert user_item.text == "1 of your orders needs review (1 image): a manager decides on them."
    assert [link.url for link in user_item.links] == ["/orders/?status=needs_review"]

    viewer_item = _items(users["Viewer"])["orders.review"]
    assert viewer_item.text == "2 orders need review (2 images)."
    assert "/review/" not in [link.url for link in viewer_item.links]

    for who in ("Admin", "Manager"):
        item = _items(users[who])["orders.review"]
        assert item.text.startswith("2 orders need review (2 images)")
        assert [link.url for link in item.links] == ["/review/"]

    assert attention.collect(users["norole"]).items == []


def test_a_failing_provider_costs_only_its_part(users, make_order, make_image, quiet_circuits):
    order = make_order(users["User"])
    _with_images(order, make_image, Image.Status.FAILED)

    def broken(viewer):
        raise RuntimeError("boom")

    attention.register("broken", broken)
    try:
        quiet_circuits()
        items = _items(users["Manager"])
    finally:
        attention.unregister("broken")
    assert items["broken.unavailable"].text == (
        "Part of this panel (broken) could not be read just now."
    )
    assert "orders.failed_images" in items


def test_dashboard_shows_the_panel_the_counter_and_the_row(
    client, users, make_order, make_image, quiet_circuits
):
    order = make_order(users["User"])
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING)
    _with_images(order, make_image, Image.Status.FAILED, Image.Status.PROCESSED)
    quiet_circuits()
    client.force_login(users["User"])
    html = client.get("/").content.decode()
    assert 'data-testid="count-attention">1<' in html
    assert "1 image failed in 1 of your orders." in html
    assert (
        '<span class="attention-flag" data-testid="attention-flag">1 image failed.</span>' in html
    )
    assert "/admin/" not in html.split('id="attention"')[1].split("</section>")[0]

    Order.objects.filter(pk=order.pk).update(status=Order.Status.COMPLETED)
    quiet_circuits()
    html = client.get("/").content.decode()
    assert 'data-testid="count-attention">0<' in html
    assert "Nothing needs attention" in html


def test_the_snapshot_carries_the_panel_in_a_few_queries(
    users, make_order, make_image, quiet_circuits
):
    for i in range(12):
        order = make_order(users["User"] if i % 2 else users["Manager"])
        Order.objects.filter(pk=order.pk).update(status=Order.Status.NEEDS_REVIEW)
        _with_images(order, make_image, Image.Status.NEEDS_REVIEW, Image.Status.FAILED)
    quiet_circuits()
    for who in ("Manager", "User", "Viewer"):
        live.dashboard_snapshot(users[who])  # the user's permissions are cached from here on
        with CaptureQueriesContext(connection) as queries:
            snapshot = live.dashboard_snapshot(users[who])
        # counters, open orders, activity (+ file names), and 2 for the orders' items,
        # 2 for the PMR's (nothing refused, nothing waiting here).
        assert len(queries) <= 8, [q["sql"][:120] for q in queries]
        keys = {item["key"] for item in snapshot["attention"]["items"]}
        assert {"orders.review", "orders.failed_images"} <= keys
        assert all(row["attention"] for row in snapshot["orders"])
        assert snapshot["attention"]["orders"] == (6 if who == "User" else 12)
