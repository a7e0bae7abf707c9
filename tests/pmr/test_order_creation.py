"""Order creation asks the PMR about the event (cached, one attempt): closed or unknown events
are refused on the page and in the API; with the PMR down the order is made anyway (offline);
an Event ID only the PMR knows is imported; the customer's PMR id is kept."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from events.models import Event
from orders import services as order_services
from orders.models import Order
from utilities.errors import OrderError

pytestmark = pytest.mark.django_db
EVENT_ROUTE = "GET /v1/events/{event_id}"
CLOSED = "EVT-2025-WED-0999"  # closed in the simulator's seed
SEEDED_OPEN = "EVT-2026-WED-0142"


def event_calls(sim) -> int:
    return sim.state()["calls"].get(EVENT_ROUTE, 0)


def test_closed_event_is_refused_on_the_page(sim, client, manager):
    Event.objects.create(event_id=CLOSED, name="Archived wedding")
    client.force_login(manager)
    response = client.post(
        "/orders/new/", {"event_id": CLOSED, "customer_name": "Ann", "customer_email": ""}
    )
    assert response.status_code == 400
    errors = response.context["form"].errors["event_id"]
    assert errors == [f"Event {CLOSED} is closed in the PMR; it takes no new orders."]
    assert f"Event {CLOSED} is closed in the PMR" in response.content.decode()
    assert not Order.objects.exists()


def test_closed_event_is_refused_by_the_api(sim, manager):
    Event.objects.create(event_id=CLOSED, name="Archived wedding")
    api = APIClient()
    api.force_login(manager)
    response = api.post("/api/v1/orders", {"event": CLOSED, "customer_name": "Ann"}, format="json")
    assert response.status_code == 409, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert "closed in the PMR" in body["error"]["message"]
    assert not Order.objects.exists()


def test_an_event_the_pmr_does_not_know_is_refused(sim, event, manager):
    with pytest.raises(OrderError, match="not known to the PMR"):
        order_services.create_order(actor=manager, event=event, customer_name="Ann")
    assert not Order.objects.exists()


def test_pmr_down_the_order_is_made_anyway(sim, event, manager):
    sim.set_faults(down=True)
    order = order_services.create_order(
        actor=manager, event=event, customer_name="Ann", customer_email="ann@example.com"
    )
    assert Order.objects.filter(pk=order.pk).exists()
    assert "pmr_customer_id" not in order.metadata
    calls = {route: n for route, n in sim.state()["calls"].items() if "/_sim" not in route}
    # One attempt per question (event, customer), each stopped at the token call's 503.
    assert calls == {"POST /oauth/token": 2}, calls


def test_event_lookups_are_cached(sim, pmr_event, manager):
    first = order_services.create_order(actor=manager, event=pmr_event, customer_name="A")
    assert event_calls(sim) == 1
    second = order_services.create_order(actor=manager, event=pmr_event, customer_name="B")
    assert event_calls(sim) == 1  # the second order asked the PMR nothing
    assert first.pk != second.pk


def test_an_event_only_the_pmr_knows_is_imported_on_the_new_order_page(sim, client, manager):
    assert not Event.objects.filter(event_id=SEEDED_OPEN).exists()
    client.force_login(manager)
    response = client.post(
        "/orders/new/", {"event_id": SEEDED_OPEN, "customer_name": "Ann", "customer_email": ""}
    )
    assert response.status_code == 302, response.content[:2000]
    event = Event.objects.get(event_id=SEEDED_OPEN)
    assert event.pmr_validated
    assert event.name
    order = Order.objects.get()
    assert order.event == event
    assert event_calls(sim) == 1  # the form's lookup was cached for create_order


def test_unknown_everywhere_is_a_form_error(sim, client, manager):
    client.force_login(manager)
    response = client.post("/orders/new/", {"event_id": "EVT-NOWHERE-1", "customer_name": "Ann"})
    assert response.status_code == 400
    assert "Unknown Event ID" in response.content.decode()
    assert not Event.objects.filter(event_id="EVT-NOWHERE-1").exists()


def test_the_customer_id_is_stored(sim, event, manager):
    sim.add_events(
        [{"event_id": event.event_id, "name": "Test", "status": "open"}],
        [
            {
                "customer_id": "CUST-7777",
                "name": "Ann Example",
                "email": "ann@example.com",
                "phone": "+1 555 0100",
            }
        ],
    )
    order = order_services.create_order(
        actor=manager, event=event, customer_name="Ann", customer_email="ANN@example.com"
    )
    assert order.metadata["pmr_customer_id"] == "CUST-7777"
    order.refresh_from_db()
    assert order.metadata["pmr_customer_id"] == "CUST-7777"
    # The answer is cached under the address's keyed hash, not the address (Redis is storage).
    redis = cache._cache.get_client()
    keys = [k.decode() for k in redis.keys("*pmr:customer:*")]
    assert keys
    assert not [k for k in keys if "ann@example.com" in k.lower()]


def test_the_api_brings_over_an_event_only_the_pmr_knows(sim, manager):
    """Like the page: a client may name an Event ID the PMR knows and we do not yet."""
    api = APIClient()
    api.force_login(manager)
    response = api.post(
        "/api/v1/orders", {"event": SEEDED_OPEN, "customer_name": "Ann"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Event.objects.get(event_id=SEEDED_OPEN).pmr_validated
    assert event_calls(sim) == 1


def test_the_api_names_a_closed_pmr_event_as_closed_not_unknown(sim, manager):
    api = APIClient()
    api.force_login(manager)
    response = api.post("/api/v1/orders", {"event": CLOSED, "customer_name": "Ann"}, format="json")
    assert response.status_code == 409, response.content
    assert "closed in the PMR" in response.json()["error"]["message"]
    assert not Order.objects.exists()


@pytest.mark.parametrize("value", ["EVT NOPE", "x" * 51, "EVT-NOWHERE-2"])
def test_the_api_refuses_what_neither_side_knows(sim, manager, value):
    api = APIClient()
    api.force_login(manager)
    response = api.post("/api/v1/orders", {"event": value, "customer_name": "Ann"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["event"]
    # Only a well-formed ID is worth a question to the PMR.
    assert event_calls(sim) == (1 if value == "EVT-NOWHERE-2" else 0)
    assert not Event.objects.filter(event_id=value).exists()


def test_a_refused_form_brings_no_event_over(sim, client, manager):
    """The form only checks the ID's shape: with another field wrong nothing is asked or kept."""
    client.force_login(manager)
    response = client.post("/orders/new/", {"event_id": SEEDED_OPEN, "customer_name": "  "})
    assert response.status_code == 400
    assert not Event.objects.filter(event_id=SEEDED_OPEN).exists()
    assert event_calls(sim) == 0


def test_a_refused_api_request_brings_no_event_over(sim, users):
    """The event is brought over in the order's transaction: a refusal after it (a User may
    not give the order to someone else) leaves no Event row behind."""
    api = APIClient()
    api.force_login(users["User"])
    body = {"event": SEEDED_OPEN, "customer_name": "Ann", "assigned_to": users["other"].pk}
    response = api.post("/api/v1/orders", body, format="json")
    assert response.status_code == 403, response.content
    assert event_calls(sim) == 1  # the PMR was asked, and said the event is open
    assert not Event.objects.filter(event_id=SEEDED_OPEN).exists()
    assert not Order.objects.exists()


def test_an_event_closed_in_the_pmr_and_not_registered_is_not_brought_over(sim, manager):
    with pytest.raises(OrderError, match="closed in the PMR"):
        order_services.create_order(actor=manager, event=CLOSED, customer_name="Ann")
    assert not Event.objects.filter(event_id=CLOSED).exists()


def test_an_event_id_in_another_case_names_the_registered_event(sim, pmr_event, manager):
    order = order_services.create_order(
        actor=manager, event=f"  {pmr_event.event_id.lower()} ", customer_name="Ann"
    )
    assert order.event == pmr_event
    assert Event.objects.count() == 1
