"""Orders through the API: create, list (filters, cursor pages), read, PUT and PATCH."""

from __future__ import annotations

import re

import pytest

from ai_processing.models import ProcessingPreset
from events.models import Event
from orders import services
from orders.models import Order, OrderEvent
from tests.conftest import orders_of_customer

from .conftest import API, assert_error

# --- create -----------------------------------------------------------------------------


def test_create_makes_a_draft_order_through_the_service(client_as, users, event):
    response = client_as("User").post(
        f"{API}/orders",
        {
            "event": event.event_id,
            "customer_name": "  Ada Lovelace ",
            "customer_email": "Ada@Example.COM",
            "notes": "Two prints",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert re.fullmatch(r"ORD-\d{4}-\d{6}", body["order_ref"])
    assert body["status"] == "draft"
    assert body["event"] == event.event_id
    assert body["customer_name"] == "Ada Lovelace"
    assert body["customer_email"] == "ada@example.com"
    assert body["created_by"] == users["User"].pk
    assert body["url"].endswith(f"/api/v1/orders/{body['order_ref']}")
    order = Order.objects.get(order_ref=body["order_ref"])
    assert order.created_by == users["User"]
    assert list(order.timeline.values_list("kind", flat=True)) == [OrderEvent.Kind.ORDER_CREATED]


def test_create_with_preset_and_assignee(client_as, users, event):
    preset = ProcessingPreset.objects.filter(is_active=True).first()
    response = client_as("Manager").post(
        f"{API}/orders",
        {
            "event": event.event_id,
            "customer_name": "Bo",
            "preset": preset.slug,
            "assigned_to": users["User"].pk,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    order = Order.objects.get(order_ref=response.json()["order_ref"])
    assert order.preset == preset
    assert order.assigned_to == users["User"]
    assert response.json()["preset"] == preset.slug


def test_a_user_may_not_assign_a_new_order_to_someone_else(client_as, users, event):
    response = client_as("User").post(
        f"{API}/orders",
        {"event": event.event_id, "customer_name": "Cy", "assigned_to": users["other"].pk},
        format="json",
    )
    assert_error(response, 403, "permission_denied")
    assert not orders_of_customer("Cy")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "NO-SUCH-EVENT", "customer_name": "x"}, "event"),
        ({"customer_name": "x"}, "event"),
        ({"event": "{event}"}, "customer_name"),
        ({"event": "{event}", "customer_name": "   "}, "customer_name"),
        ({"event": "{event}", "customer_name": "x", "customer_email": "nope"}, "customer_email"),
        ({"event": "{event}", "customer_name": "x", "preset": "no-such-preset"}, "preset"),
        ({"event": "{event}", "customer_name": "x", "assigned_to": 999999}, "assigned_to"),
        ({"event": "{event}", "customer_name": "x", "status": "completed"}, "status"),
    ],
)
def test_create_refuses_bad_fields_with_field_details(client_as, event, body, field):
    body = {k: (event.event_id if v == "{event}" else v) for k, v in body.items()}
    response = client_as("Admin").post(f"{API}/orders", body, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["details"], error
    assert field in error["message"]
    assert Order.objects.count() == 0


def test_unknown_event_is_named_in_the_message(client_as):
    response = client_as("Admin").post(
        f"{API}/orders", {"event": "WED-404", "customer_name": "x"}, format="json"
    )
    error = assert_error(response, 400, "invalid")
    assert error["details"]["event"] == [
        "Unknown Event ID “WED-404”. Check the ID in the PMR (if the PMR cannot be reached, "
        "only events already registered here can take orders)."
    ]


def test_inactive_presets_cannot_be_chosen(client_as, event):
    preset = ProcessingPreset.objects.filter(is_active=True).first()
    preset.is_active = False
    preset.save()
    response = client_as("Admin").post(
        f"{API}/orders",
        {"event": event.event_id, "customer_name": "x", "preset": preset.slug},
        format="json",
    )
    assert "preset" in assert_error(response, 400)["details"]


# --- list, filters, pages ---------------------------------------------------------------------


@pytest.fixture
def many(users, event, make_order):
    """Seven orders of the Manager; two of another event; one pending."""
    second = Event.objects.create(event_id="SCH-2025-7", name="School")
    made = [make_order(users["Manager"], customer_name=f"Customer {i}") for i in range(5)]
    made += [
        services.create_order(
            actor=users["Manager"], event=second, customer_name=f"Pupil {i}", customer_email=e
        )
        for i, e in enumerate(["kid@school.example", ""])
    ]
    services.change_order_status(made[0], Order.Status.PENDING, actor=users["Manager"])
    return made


def _all_pages(client, url):
    refs, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        refs += [row["order_ref"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    return refs, pages


def test_cursor_pages_walk_every_order_once_newest_first(client_as, many):
    refs, pages = _all_pages(client_as("Viewer"), f"{API}/orders?page_size=3")

    assert pages == 3
    assert refs == [o.order_ref for o in sorted(many, key=lambda o: (o.created_at, o.id))][::-1]


def test_previous_link_goes_back(client_as, many):
    client = client_as("Viewer")
    first = client.get(f"{API}/orders?page_size=2").json()
    second = client.get(first["next"]).json()
    back = client.get(second["previous"]).json()
    assert [r["order_ref"] for r in back["results"]] == [r["order_ref"] for r in first["results"]]


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ("status=pending", lambda m: [m[0]]),
        ("status=draft,pending", lambda m: m),
        ("status=cancelled", lambda m: []),
        ("event=SCH-2025-7", lambda m: m[5:]),
        ("event=UNKNOWN-1", lambda m: []),
        # Customer e-mails are encrypted: a whole address matches (any case), through its
        # keyed hash; part of one, or a name, does not.
        ("search=KID@School.example", lambda m: [m[5]]),
        ("search=SCHOOL.example", lambda m: []),
        ("search=Pupil 0", lambda m: []),
        ("customer_email= kid@SCHOOL.example &event=SCH-2025-7", lambda m: [m[5]]),
        ("customer_email=kid@school.example&event=EVT-0307", lambda m: []),
        ("customer_email=other@school.example", lambda m: []),
        ("search={ref}", lambda m: [m[2]]),
    ],
)
def test_filters(client_as, many, query, expect):
    query = query.replace("{ref}", many[2].order_ref)
    refs, _ = _all_pages(client_as("Manager"), f"{API}/orders?{query}")
    assert sorted(refs) == sorted(o.order_ref for o in expect(many))


def test_filters_keep_the_access_rule(client_as, many, users, make_order):
    own = make_order(users["User"], customer_name="Customer mine", customer_email="a@b.example")
    make_order(users["Manager"], customer_email="a@b.example")
    for query in ("search=A@B.example", "customer_email=a@b.example"):
        refs, _ = _all_pages(client_as("User"), f"{API}/orders?{query}")
        assert refs == [own.order_ref]
    refs, _ = _all_pages(client_as("Manager"), f"{API}/orders?customer_email=a@b.example")
    assert len(refs) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=shipped", "status"),
        ("event=not%20an%20id", "event"),
        ("search=" + "x" * 101, "search"),
        ("cursor=not-a-cursor", "cursor"),
    ],
)
def test_bad_filters_are_400(client_as, many, query, field):
    response = client_as("Manager").get(f"{API}/orders?{query}")
    assert field in assert_error(response, 400, "invalid")["details"]


def test_page_size_is_capped(client_as, users, make_order):
    for _ in range(3):
        make_order(users["Manager"])
    body = client_as("Manager").get(f"{API}/orders?page_size=100000").json()
    assert len(body["results"]) == 3


def test_trailing_slash_is_accepted_without_redirect(client_as, many):
    assert client_as("Manager").get(f"{API}/orders/").status_code == 200
    ref = many[0].order_ref
    assert client_as("Manager").get(f"{API}/orders/{ref}/").status_code == 200


# --- read, PATCH, PUT ---------------------------------------------------------------------


@pytest.fixture
def order(users, make_order):
    return make_order(users["User"], customer_email="c@example.com", notes="first")


def test_retrieve_by_order_ref(client_as, order):
    body = client_as("User").get(f"{API}/orders/{order.order_ref}").json()
    assert body["order_ref"] == order.order_ref
    assert body["image_counts"]["total"] == 0


def test_unknown_order_ref_is_404(client_as, order):
    error = assert_error(client_as("Admin").get(f"{API}/orders/ORD-1999-000001"), 404, "not_found")
    assert "ORD-1999-000001" in error["message"]


def test_patch_edits_through_the_service(client_as, order, event):
    other_event = Event.objects.create(event_id="SPT-1")
    response = client_as("User").patch(
        f"{API}/orders/{order.order_ref}",
        {"notes": "second", "customer_email": " NEW@Example.com", "event": "SPT-1"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    assert (order.notes, order.customer_email, order.event) == (
        "second",
        "new@example.com",
        other_event,
    )
    last = order.timeline.order_by("-seq").first()
    assert last.kind == OrderEvent.Kind.ORDER_UPDATED
    assert last.payload["fields"] == ["customer_email", "event", "notes"]
    assert response.json()["notes"] == "second"


def test_patch_ignores_read_only_fields(client_as, order):
    response = client_as("User").patch(
        f"{API}/orders/{order.order_ref}",
        {"order_ref": "ORD-2000-000001", "pmr_synced": True, "image_counts": {"total": 9}},
        format="json",
    )
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.order_ref != "ORD-2000-000001"
    assert order.pmr_synced is False


def test_put_round_trips_a_get_body(client_as, order):
    client = client_as("User")
    body = client.get(f"{API}/orders/{order.order_ref}").json()
    body["customer_name"] = "Renamed"

    response = client.put(f"{API}/orders/{order.order_ref}", body, format="json")

    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    assert order.customer_name == "Renamed"
    assert order.status == Order.Status.DRAFT


def test_put_needs_the_required_fields(client_as, order):
    response = client_as("User").put(
        f"{API}/orders/{order.order_ref}", {"notes": "only"}, format="json"
    )
    details = assert_error(response, 400, "invalid")["details"]
    assert set(details) == {"event", "customer_name"}


def test_patch_status_moves_the_state_machine(client_as, order):
    client = client_as("User")
    response = client.patch(
        f"{API}/orders/{order.order_ref}", {"status": "cancelled"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.timeline.filter(kind=OrderEvent.Kind.ORDER_STATUS).exists()


def test_patch_status_refused_by_the_state_machine_is_409(client_as, order):
    response = client_as("User").patch(
        f"{API}/orders/{order.order_ref}", {"status": "completed"}, format="json"
    )
    error = assert_error(response, 409, "transition_not_allowed")
    assert error["details"] == {"from": "draft", "to": "completed"}
    order.refresh_from_db()
    assert order.status == Order.Status.DRAFT


def test_edits_and_status_are_one_transaction(client_as, order):
    response = client_as("User").patch(
        f"{API}/orders/{order.order_ref}",
        {"notes": "should not stay", "status": "completed"},
        format="json",
    )
    assert_error(response, 409)
    order.refresh_from_db()
    assert order.notes == "first"


def test_editing_a_closed_order_is_409(client_as, order_in):
    closed = order_in(Order.Status.COMPLETED)
    response = client_as("Manager").patch(
        f"{API}/orders/{closed.order_ref}", {"notes": "late"}, format="json"
    )
    error = assert_error(response, 409, "conflict")
    assert "can no longer be edited" in error["message"]


def test_patch_assigns_for_managers_only(client_as, users, order):
    manager = client_as("Manager")
    response = manager.patch(
        f"{API}/orders/{order.order_ref}", {"assigned_to": users["other"].pk}, format="json"
    )
    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    assert order.assigned_to == users["other"]

    own = client_as("User").patch(
        f"{API}/orders/{order.order_ref}",
        {"notes": "rolled back", "assigned_to": None},
        format="json",
    )
    assert_error(own, 403, "permission_denied")
    order.refresh_from_db()
    assert order.assigned_to == users["other"]
    assert order.notes == "first"


def test_unchanged_put_of_a_closed_order_is_a_no_op(client_as, order_in):
    closed = order_in(Order.Status.CANCELLED)
    client = client_as("Manager")
    body = client.get(f"{API}/orders/{closed.order_ref}").json()
    response = client.put(f"{API}/orders/{closed.order_ref}", body, format="json")
    assert response.status_code == 200, response.json()
