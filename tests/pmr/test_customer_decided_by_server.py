"""The PMR customer an order is delivered to is decided by the server (from the customer's
e-mail in the PMR), never by whoever sends the order: a client's ``metadata.pmr_customer_id``
is refused on create and on edit, and the outbox carries the server's value."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from orders.models import Order
from pmr import outbox

pytestmark = pytest.mark.django_db
CUSTOMER = {
    "customer_id": "CUST-4242",
    "name": "Ann Example",
    "email": "ann@example.com",
    "phone": "+1 555 0100",
}


@pytest.fixture
def api(users):
    client = APIClient()
    client.force_login(users["User"])
    return client


@pytest.fixture
def known_customer(sim, event):
    sim.add_events([{"event_id": event.event_id, "name": "Test", "status": "open"}], [CUSTOMER])


def test_a_user_cannot_choose_the_customer_on_create(api, known_customer, event):
    response = api.post(
        "/api/v1/orders",
        {
            "event": event.event_id,
            "customer_name": "Ann",
            "customer_email": "ann@example.com",
            "metadata": {"pmr_customer_id": "CUST-SOMEONE-ELSE", "album": "A"},
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "pmr_customer_id is decided by the server" in response.json()["error"]["message"]
    assert not Order.objects.exists()


def test_the_server_decides_and_an_edit_cannot_change_it(api, known_customer, event):
    created = api.post(
        "/api/v1/orders",
        {
            "event": event.event_id,
            "customer_name": "Ann",
            "customer_email": "ann@example.com",
            "metadata": {"album": "A"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    ref = created.json()["order_ref"]
    order = Order.objects.get(order_ref=ref)
    assert order.metadata == {"album": "A", "pmr_customer_id": "CUST-4242"}

    # Another customer through an edit: refused, nothing changed.
    url = f"/api/v1/orders/{ref}"
    forged = {"metadata": {"album": "A", "pmr_customer_id": "CUST-SOMEONE-ELSE"}}
    refused = api.patch(url, forged, format="json")
    assert refused.status_code == 400, refused.content
    order.refresh_from_db()
    assert order.metadata["pmr_customer_id"] == "CUST-4242"

    # Writing back what was read is fine; leaving the key out keeps the server's value.
    echoed = api.patch(url, {"metadata": {**order.metadata, "album": "B"}}, format="json")
    assert echoed.status_code == 200, echoed.content
    left_out = api.patch(url, {"metadata": {"album": "C"}}, format="json")
    assert left_out.status_code == 200, left_out.content
    order.refresh_from_db()
    assert order.metadata == {"album": "C", "pmr_customer_id": "CUST-4242"}
    assert outbox.order_metadata(order)["customer_id"] == "CUST-4242"
