"""The new-order page: Event ID checked against the events table, preset, access."""

from __future__ import annotations

import pytest

from ai_processing.models import ProcessingPreset
from events.models import Event
from orders.models import Order, OrderEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def presets(db):
    ProcessingPreset.objects.all().delete()
    active = ProcessingPreset.objects.create(name="Retouch", slug="retouch", operations=["edit"])
    retired = ProcessingPreset.objects.create(
        name="Old look", slug="old-look", operations=["edit"], is_active=False
    )
    return active, retired


def test_form_offers_recent_events_and_active_presets(client, users, event, presets):
    client.force_login(users["User"])
    response = client.get("/orders/new/")
    html = response.content.decode()
    assert f'<option value="{event.event_id}">' in html
    assert 'list="recent-events"' in html
    assert "Retouch" in html
    assert "Old look" not in html
    for name in ("event_id", "customer_name", "customer_email", "notes", "preset"):
        assert f'<label for="id_{name}"' in html, name


def test_create_order_with_preset(client, users, event, presets):
    active, _ = presets
    client.force_login(users["User"])
    response = client.post(
        "/orders/new/",
        {
            "event_id": event.event_id,
            "customer_name": "  Jane Doe ",
            "customer_email": "Jane@Example.COM",
            "notes": "Rush",
            "preset": active.pk,
        },
    )
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.order_ref}/"
    assert (order.event, order.customer_name, order.customer_email) == (
        event,
        "Jane Doe",
        "jane@example.com",
    )
    assert order.preset == active
    assert order.notes == "Rush"
    assert order.created_by == users["User"]
    assert list(order.timeline.values_list("kind", flat=True)) == [OrderEvent.Kind.ORDER_CREATED]
    page = client.get(response["Location"])
    assert f"Order {order.order_ref} created" in page.content.decode()


def test_event_id_is_matched_ignoring_case_and_spaces(client, users):
    event = Event.objects.create(event_id="WED-2025-0042")
    client.force_login(users["User"])
    client.post("/orders/new/", {"event_id": " wed-2025-0042 ", "customer_name": "A"})
    assert Order.objects.get().event == event


def test_unknown_event_id_is_a_clear_error(client, users, event):
    client.force_login(users["User"])
    response = client.post("/orders/new/", {"event_id": "NOPE-1", "customer_name": "A"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Unknown Event ID “NOPE-1”" in html
    assert 'aria-invalid="true"' in html
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"event_id": "", "customer_name": "A"}, "This field is required."),
        ({"event_id": "x", "customer_name": "   "}, "This field is required."),
        ({"customer_name": "A", "customer_email": "not-mail"}, "Enter a valid email address."),
        ({"customer_name": "A", "preset": "999999"}, "Select a valid choice."),
    ],
)
def test_invalid_input_is_shown(client, users, event, data, message):
    data = {"event_id": event.event_id, **data}
    client.force_login(users["User"])
    response = client.post("/orders/new/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Order.objects.exists()


def test_retired_preset_is_refused(client, users, event, presets):
    _, retired = presets
    client.force_login(users["User"])
    response = client.post(
        "/orders/new/",
        {"event_id": event.event_id, "customer_name": "A", "preset": retired.pk},
    )
    assert response.status_code == 400
    assert not Order.objects.exists()


@pytest.mark.parametrize("who", ["Viewer", "norole"])
def test_those_who_may_not_create_get_403(client, users, event, who):
    client.force_login(users[who])
    assert client.get("/orders/new/").status_code == 403
    response = client.post("/orders/new/", {"event_id": event.event_id, "customer_name": "A"})
    assert response.status_code == 403
    assert not Order.objects.exists()
