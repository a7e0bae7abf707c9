"""``POST /api/v1/orders/{ref}/approve|reject`` and ``…/images/{id}/approve|reject``, per role.

One access rule: Admin and Manager approve any order; a User approves their own order only
when its hold allows it (the flag); a Viewer never; an order a caller cannot see is 404.
"""

from __future__ import annotations

import pytest

from ai_processing.models import ProcessingPreset
from orders.models import Image, Order, OrderEvent
from tests.ai_processing.approval import delivered, delivery_rows, held_order

from .conftest import API, assert_error, check

pytestmark = pytest.mark.django_db
S = Order.Status

ENDPOINTS = ("approve", "reject", "image-approve", "image-reject")


def url(order: Order, endpoint: str) -> str:
    if endpoint.startswith("image-"):
        image = order.images.order_by("pk").first()
        return f"{API}/orders/{order.order_ref}/images/{image.pk}/{endpoint[6:]}"
    return f"{API}/orders/{order.order_ref}/{endpoint}"


#: who → (User's order with the flag, User's order without the flag) → expected status.
EXPECTED = {
    "Admin": (200, 200),
    "Manager": (200, 200),
    "User": (200, 403),
    "Viewer": (403, 403),
    "other": (404, 404),  # another User: cannot even see these orders
    "norole": (403, 403),
    "anonymous": (401, 401),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("who", list(EXPECTED))
def test_each_role(who, endpoint, client_as, make_order, users):
    client = client_as(who) if who != "other" else client_as("User")
    owner = users["other"] if who == "other" else users["User"]
    flagged = held_order(make_order, owner, 2, owner_may_approve=True)
    plain = held_order(make_order, owner, 2)
    for order, expected in zip((flagged, plain), EXPECTED[who], strict=True):
        response = client.post(url(order, endpoint), {}, format="json")
        check(response, expected)
        order.refresh_from_db()
        if expected == 200:
            assert order.status in (S.PROCESSING, S.AWAITING_APPROVAL, S.NEEDS_REVIEW)
            assert order.status != S.AWAITING_APPROVAL or endpoint == "image-approve"
        else:
            assert order.status == S.AWAITING_APPROVAL  # a refusal changed nothing
            assert not order.images.filter(approved_at__isnull=False).exists()


def test_approve_answers_the_order_and_delivers(client_as, make_order, users):
    order = held_order(make_order, users["User"], 2)
    response = client_as("Manager").post(url(order, "approve"))
    check(response, 200)
    body = response.json()
    assert body["images"] == 2
    assert body["order"]["order_ref"] == order.order_ref
    assert body["order"]["ai_processed"] is True
    assert body["order"]["status"] == S.PROCESSING
    assert delivered(order) == (2, 1)
    sent = delivery_rows(order).count()
    # Again: the order no longer awaits approval.
    assert_error(client_as("Manager").post(url(order, "approve")), 409, "conflict")
    assert delivery_rows(order).count() == sent


def test_image_answers(client_as, make_order, users):
    order = held_order(make_order, users["User"], 2, owner_may_approve=True)
    first, second = order.images.order_by("pk")
    client = client_as("User")
    response = client.post(f"{API}/orders/{order.order_ref}/images/{first.pk}/approve")
    check(response, 200)
    assert response.json()["approved_at"]
    assert response.json()["status"] == Image.Status.PROCESSED

    redo = ProcessingPreset.objects.get(slug="colour-correct-only")
    response = client.post(
        f"{API}/orders/{order.order_ref}/images/{second.pk}/reject",
        {"reason": "too dark", "preset": redo.slug},
        format="json",
    )
    check(response, 200)
    body = response.json()
    assert body["status"] == Image.Status.INGESTED  # on its way to be redone
    assert body["ai_metadata"]["preset_override"] == redo.slug
    order.refresh_from_db()
    assert order.status == S.NEEDS_REVIEW
    assert not delivery_rows(order).exists()
    reasons = OrderEvent.objects.filter(
        order=order, kind=OrderEvent.Kind.IMAGE_STATUS, payload__to="needs_review"
    )
    assert "too dark" in reasons.get().payload["reason"]


def test_bad_requests_are_sentences_not_500s(client_as, make_order, users):
    order = held_order(make_order, users["User"], 1)
    client = client_as("Manager")
    assert_error(
        client.post(url(order, "reject"), {"preset": "no-such-preset"}, format="json"), 400
    )
    assert_error(client.post(url(order, "reject"), {"reason": 5}, format="json"), 400)
    assert_error(client.post(f"{API}/orders/{order.order_ref}/images/999999999/approve"), 404)
    assert_error(client.post(f"{API}/orders/ORD-0000-000000/approve"), 404)
    other = held_order(make_order, users["User"], 1)
    image = other.images.get()
    assert_error(client.post(f"{API}/orders/{order.order_ref}/images/{image.pk}/approve"), 404)
    assert_error(client.get(url(order, "approve")), 405)
    order.refresh_from_db()
    assert order.status == S.AWAITING_APPROVAL
