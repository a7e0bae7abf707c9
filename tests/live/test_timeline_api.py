"""The polling side: ``GET /api/v1/orders/<ref>/timeline/?after=`` and ``/api/v1/dashboard/``."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from orders import services
from orders.models import OrderEvent

pytestmark = pytest.mark.django_db

API = "/api/v1"


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The API's one error shape, ``{"error": {"code", "message", "details"}}``; its body."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def client_as(users):
    def _as(who: str) -> APIClient:
        client = APIClient()
        if who != "anonymous":
            client.force_login(users[who])
        return client

    return _as


@pytest.fixture
def orders(users, make_order):
    return {
        "own": make_order(users["User"]),
        "assigned": make_order(users["Manager"], assigned_to=users["User"]),
        "foreign": make_order(users["other"]),
    }


def timeline(client: APIClient, ref: str, **params):
    return client.get(f"{API}/orders/{ref}/timeline/", params)


def test_pages_through_the_timeline_with_next_after(client_as, orders, users):
    order = orders["own"]
    for i in range(6):
        services.record_event(order, OrderEvent.Kind.ORDER_UPDATED, {"fields": [f"f{i}"]})
    client = client_as("User")
    seen, after, pages = [], 0, 0
    while True:
        response = timeline(client, order.order_ref, after=after, limit=3)
        assert response.status_code == 200, response.content
        assert response["Cache-Control"] == "no-store"
        body = response.json()
        assert body["order"] == order.order_ref
        assert body["last_seq"] == 7
        seen += [e["seq"] for e in body["events"]]
        pages += 1
        after = body["next_after"]
        if not body["has_more"]:
            break
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    assert pages == 3
    # Nothing new: an empty page that keeps the position.
    body = timeline(client, order.order_ref, after=7).json()
    assert (body["events"], body["next_after"], body["has_more"]) == ([], 7, False)


def test_entries_carry_kind_text_actor_and_payload(client_as, orders, users):
    order = orders["own"]
    services.change_order_status(order, "pending", actor=users["User"], reason="go")
    body = timeline(client_as("User"), order.order_ref, after=1).json()
    (entry,) = body["events"]
    assert entry["seq"] == 2
    assert entry["kind"] == OrderEvent.Kind.ORDER_STATUS
    assert entry["text"] == "Status Draft → Pending (go)"
    assert entry["actor"] == str(users["User"])
    assert entry["payload"] == {"from": "draft", "to": "pending", "reason": "go"}
    assert entry["at"]
    assert entry["at_label"]


@pytest.mark.parametrize(
    ("who", "which", "status"),
    [
        ("Admin", "foreign", 200),
        ("Manager", "foreign", 200),
        ("Viewer", "foreign", 200),
        ("User", "own", 200),
        ("User", "assigned", 200),
        ("User", "foreign", 404),
        ("norole", "own", 403),
        ("anonymous", "own", 401),
    ],
)
def test_timeline_follows_the_access_rule(client_as, orders, who, which, status):
    response = timeline(client_as(who), orders[which].order_ref)
    if status == 200:
        assert response.status_code == 200
        assert [e["seq"] for e in response.json()["events"]] == [1]
    else:
        code = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}[status]
        assert_error(response, status, code)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "-1"}, "after"),
        ({"after": "x"}, "after"),
        ({"after": str(2**31)}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
    ],
)
def test_bad_parameters_are_400_in_the_error_shape(client_as, orders, params, field):
    error = assert_error(timeline(client_as("User"), orders["own"].order_ref, **params), 400)
    assert error["code"] == "invalid"
    assert field in error["details"]


def test_unknown_order_and_malformed_reference_are_404(client_as):
    client = client_as("Admin")
    assert_error(timeline(client, "ORD-1999-000001"), 404, "not_found")
    assert_error(client.get(f"{API}/orders/bad%00ref/timeline/"), 404, "not_found")


def test_dashboard_snapshot_shows_only_visible_orders(client_as, orders, users):
    services.update_order(orders["foreign"], actor=users["other"], notes="theirs")
    body = client_as("User").get(f"{API}/dashboard/").json()
    refs = {row["ref"] for row in body["orders"]}
    assert refs == {orders["own"].order_ref, orders["assigned"].order_ref}
    assert orders["foreign"].order_ref not in {e["ref"] for e in body["activity"]}
    assert body["total"] == 2
    assert body["counters"]["draft"] == 2
    manager = client_as("Manager").get(f"{API}/dashboard/").json()
    assert manager["total"] == 3
    assert manager["activity"][0]["text"] == "Details edited: notes"


@pytest.mark.parametrize(("who", "status"), [("norole", 403), ("anonymous", 401)])
def test_dashboard_snapshot_refuses_who_sees_no_orders(client_as, who, status):
    assert_error(client_as(who).get(f"{API}/dashboard/"), status)
