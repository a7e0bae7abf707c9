"""Every endpoint against every role: the API applies the one access rule.

Orders are seen from the ``User`` role: ``own`` (created by them), ``assigned``
(created by a Manager, assigned to them), ``foreign`` (another User's).
Orders a user may not see are 404 (their existence is not revealed); orders
they see but may not act on are 403; anonymous requests are 401.
"""

from __future__ import annotations

import pytest

from orders.models import Order
from tests.conftest import orders_of_customer

from .conftest import API, assert_error, photo

WHO = ["Admin", "Manager", "User", "Viewer", "norole", "anonymous"]
TARGETS = ["own", "assigned", "foreign"]

#: The orders each role sees, and those it may change / upload to / delete.
SEES = {
    "Admin": set(TARGETS),
    "Manager": set(TARGETS),
    "Viewer": set(TARGETS),
    "User": {"own", "assigned"},
}
CHANGES = {"Admin": set(TARGETS), "Manager": set(TARGETS), "User": {"own", "assigned"}}
DELETES = {"Admin": set(TARGETS)}


def expected(who: str, target: str, allowed: dict[str, set[str]], success: int) -> int:
    if who == "anonymous":
        return 401
    if who == "norole":
        return 403
    if target not in SEES[who]:
        return 404
    return success if target in allowed.get(who, set()) else 403


def check(response, status: int) -> None:
    if status >= 400:
        assert_error(response, status)
    else:
        assert response.status_code == status, (response.status_code, response.content[:300])


@pytest.mark.parametrize("who", WHO)
def test_list(client_as, orders, users, who):
    response = client_as(who).get(f"{API}/orders")
    if who == "anonymous":
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"]
        return
    if who == "norole":
        assert_error(response, 403, "permission_denied")
        return
    assert response.status_code == 200
    listed = {row["order_ref"] for row in response.json()["results"]}
    assert listed == {orders[t].order_ref for t in SEES[who]}


def test_list_for_another_user_shows_only_theirs(client_as, orders):
    response = client_as("other").get(f"{API}/orders")
    assert {row["order_ref"] for row in response.json()["results"]} == {orders["foreign"].order_ref}


@pytest.mark.parametrize("who", WHO)
def test_create(client_as, event, users, who):
    response = client_as(who).post(
        f"{API}/orders", {"event": event.event_id, "customer_name": "Jo"}, format="json"
    )
    status = {"Admin": 201, "Manager": 201, "User": 201, "Viewer": 403, "norole": 403}
    status["anonymous"] = 401
    check(response, status[who])
    assert bool(orders_of_customer("Jo")) is (status[who] == 201)


@pytest.mark.parametrize("who", WHO)
def test_retrieve(client_as, orders, who):
    client = client_as(who)
    for target, order in orders.items():
        response = client.get(f"{API}/orders/{order.order_ref}")
        check(response, expected(who, target, SEES, 200))


@pytest.mark.parametrize("who", WHO)
def test_patch(client_as, orders, who):
    client = client_as(who)
    for target, order in orders.items():
        response = client.patch(
            f"{API}/orders/{order.order_ref}", {"notes": f"by {who}"}, format="json"
        )
        status = expected(who, target, CHANGES, 200)
        check(response, status)
        order.refresh_from_db()
        assert (order.notes == f"by {who}") is (status == 200), (who, target)


@pytest.mark.parametrize("who", WHO)
def test_put(client_as, orders, event, who):
    client = client_as(who)
    for target, order in orders.items():
        body = {"event": event.event_id, "customer_name": f"Put by {who}"}
        response = client.put(f"{API}/orders/{order.order_ref}", body, format="json")
        status = expected(who, target, CHANGES, 200)
        check(response, status)
        order.refresh_from_db()
        assert (order.customer_name == f"Put by {who}") is (status == 200), (who, target)


@pytest.mark.parametrize("who", WHO)
def test_delete(client_as, orders, who):
    client = client_as(who)
    for target, order in orders.items():
        response = client.delete(f"{API}/orders/{order.order_ref}")
        status = expected(who, target, DELETES, 204)
        check(response, status)
        assert Order.objects.filter(pk=order.pk).exists() is (status != 204), (who, target)


@pytest.mark.parametrize("who", WHO)
def test_list_images(client_as, orders, make_image, who):
    for order in orders.values():
        make_image(order)
    client = client_as(who)
    for target, order in orders.items():
        response = client.get(f"{API}/orders/{order.order_ref}/images")
        status = expected(who, target, SEES, 200)
        check(response, status)
        if status == 200:
            assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("who", WHO)
def test_upload_image(client_as, orders, who):
    client = client_as(who)
    for target, order in orders.items():
        response = client.post(
            f"{API}/orders/{order.order_ref}/images", {"file": photo()}, format="multipart"
        )
        status = expected(who, target, CHANGES, 201)
        check(response, status)
        assert order.images.exists() is (status == 201), (who, target)


def test_unsafe_requests_need_the_csrf_token_with_session_auth(users, event):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(users["Admin"])
    response = client.post(
        f"{API}/orders", {"event": event.event_id, "customer_name": "X"}, format="json"
    )
    error = assert_error(response, 403, "permission_denied")
    assert "CSRF" in error["message"]
    assert not orders_of_customer("X")


def test_inactive_users_are_anonymous(client_as, users, orders):
    client = client_as("Manager")
    users["Manager"].is_active = False
    users["Manager"].save()
    assert_error(client.get(f"{API}/orders"), 401, "not_authenticated")
