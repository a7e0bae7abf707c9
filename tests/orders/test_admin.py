"""The order back office per role, through the real admin views."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.messages import constants as message_levels
from django.urls import reverse

from orders.models import Image, Order, OrderEvent

CHANGELIST = "/admin/orders/order/"


@pytest.fixture
def orders(users, make_order):
    """One order per creator, so every role's view can be checked by reference."""
    return {
        "user": make_order(users["User"]),
        "other": make_order(users["other"]),
        "manager": make_order(users["Manager"], assigned_to=users["User"]),
    }


def listed_refs(response) -> set[str]:
    return {order.order_ref for order in response.context["cl"].result_list}


@pytest.mark.parametrize("role", ["Admin", "Manager"])
def test_staff_roles_open_the_admin_and_see_every_order(client, users, orders, role):
    client.force_login(users[role])
    assert client.get("/admin/").status_code == 200

    response = client.get(CHANGELIST)
    assert response.status_code == 200
    expected = {o.order_ref for o in orders.values()}
    assert listed_refs(response) == expected
    html = response.content.decode()
    assert all(ref in html for ref in expected)


@pytest.mark.parametrize("who", ["User", "Viewer", "norole"])
def test_non_staff_are_sent_to_the_admin_login(client, users, orders, who):
    client.force_login(users[who])
    for url in ("/admin/", CHANGELIST, f"{CHANGELIST}{orders['user'].pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_anonymous_is_sent_to_the_admin_login(client, orders):
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_manager_opens_any_order_but_cannot_delete(client, users, orders):
    client.force_login(users["Manager"])
    order = orders["other"]

    change = client.get(f"{CHANGELIST}{order.pk}/change/")
    assert change.status_code == 200
    assert order.order_ref in change.content.decode()

    assert client.get(f"{CHANGELIST}{order.pk}/delete/").status_code == 403
    assert client.post(f"{CHANGELIST}{order.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()

    # Nor through the bulk action.
    client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [order.pk], "post": "yes"}
    )
    assert Order.objects.filter(pk=order.pk).exists()


def test_admin_role_may_delete_an_order_with_its_images_and_timeline(
    client, users, orders, make_image
):
    client.force_login(users["Admin"])
    order = orders["other"]
    image = make_image(order)
    assert client.get(f"{CHANGELIST}{order.pk}/delete/").status_code == 200

    response = client.post(f"{CHANGELIST}{order.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Order.objects.filter(pk=order.pk).exists()
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not OrderEvent.objects.filter(order_id=order.pk).exists()


def test_admin_role_may_bulk_delete_orders(client, users, orders):
    client.force_login(users["Admin"])
    selected = [orders["user"].pk, orders["other"].pk]
    response = client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": selected, "post": "yes"}
    )
    assert response.status_code == 302
    assert not Order.objects.filter(pk__in=selected).exists()
    assert Order.objects.filter(pk=orders["manager"].pk).exists()


def test_a_single_timeline_entry_cannot_be_deleted_even_by_an_admin(client, users, orders):
    client.force_login(users["Admin"])
    entry = OrderEvent.objects.get(order=orders["other"])
    assert client.get(f"/admin/orders/orderevent/{entry.pk}/delete/").status_code == 403
    assert OrderEvent.objects.filter(pk=entry.pk).exists()


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in response.context["messages"]]


def test_cancel_action_goes_through_the_service(client, users, orders):
    client.force_login(users["Manager"])
    completed = orders["manager"]
    Order.objects.filter(pk=completed.pk).update(status=Order.Status.COMPLETED)
    selected = [orders["user"].pk, orders["other"].pk, completed.pk]

    response = client.post(
        CHANGELIST, {"action": "cancel_orders", "_selected_action": selected}, follow=True
    )

    assert response.status_code == 200
    statuses = dict(Order.objects.filter(pk__in=selected).values_list("pk", "status"))
    assert statuses == {
        orders["user"].pk: Order.Status.CANCELLED,
        orders["other"].pk: Order.Status.CANCELLED,
        completed.pk: Order.Status.COMPLETED,
    }
    for order in (orders["user"], orders["other"]):
        last = OrderEvent.objects.filter(order=order).latest("seq")
        assert last.kind == OrderEvent.Kind.ORDER_STATUS
        assert last.payload == {
            "from": Order.Status.DRAFT,
            "to": Order.Status.CANCELLED,
            "reason": "admin action",
        }
        assert last.actor == users["Manager"]
    assert OrderEvent.objects.filter(order=completed).count() == 1  # only "created"

    msgs = messages_of(response)
    assert (message_levels.SUCCESS, "2 order(s) moved to cancelled.") in msgs
    warnings = [text for level, text in msgs if level == message_levels.WARNING]
    assert len(warnings) == 1
    assert completed.order_ref in warnings[0]
    assert "cannot move from 'completed' to 'cancelled'" in warnings[0]


def test_complete_action_refuses_orders_not_in_a_completable_state(client, users, orders):
    client.force_login(users["Manager"])
    processing = orders["user"]
    Order.objects.filter(pk=processing.pk).update(status=Order.Status.PROCESSING)

    response = client.post(
        CHANGELIST,
        {"action": "complete_orders", "_selected_action": [processing.pk, orders["other"].pk]},
        follow=True,
    )

    stored = Order.objects.get(pk=processing.pk)
    assert stored.status == Order.Status.COMPLETED
    assert stored.completed_at is not None
    assert Order.objects.get(pk=orders["other"].pk).status == Order.Status.DRAFT
    warnings = [t for lvl, t in messages_of(response) if lvl == message_levels.WARNING]
    assert len(warnings) == 1
    assert orders["other"].order_ref in warnings[0]


def test_editing_an_order_in_the_admin_goes_through_the_service(client, users, orders):
    client.force_login(users["Manager"])
    order = orders["other"]
    data = {
        "event": order.event.pk,
        "assigned_to": users["User"].pk,
        "customer_name": "Edited in admin",
        "customer_email": "",
        "order_date_0": order.order_date.strftime("%Y-%m-%d"),
        "order_date_1": order.order_date.strftime("%H:%M:%S"),
        "notes": "",
        "metadata": "{}",
        **inline_management_data(order),
    }

    response = client.post(f"{CHANGELIST}{order.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    stored = Order.objects.get(pk=order.pk)
    assert stored.customer_name == "Edited in admin"
    assert stored.assigned_to == users["User"]
    kinds = list(
        OrderEvent.objects.filter(order=order).order_by("seq").values_list("kind", flat=True)
    )
    assert kinds == [
        OrderEvent.Kind.ORDER_CREATED,
        OrderEvent.Kind.ORDER_UPDATED,
        OrderEvent.Kind.ORDER_ASSIGNED,
    ]
    assert OrderEvent.objects.filter(order=order).latest("seq").actor == users["Manager"]


def test_adding_an_order_in_the_admin_goes_through_the_service(client, users, event):
    client.force_login(users["Manager"])
    data = {
        "event": event.pk,
        "assigned_to": users["User"].pk,
        "customer_name": " Added in admin ",
        "customer_email": "ADDED@example.com",
        "order_date_0": "2003-04-05",
        "order_date_1": "10:00:00",
        "notes": "",
        "metadata": "{}",
    }
    for prefix in ("images", "timeline"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})

    response = client.post(f"{CHANGELIST}add/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    order = Order.objects.for_customer_email("added@example.com").get()
    assert order.order_ref == "ORD-2003-000001"
    assert order.customer_name == "Added in admin"
    assert (order.created_by, order.assigned_to) == (users["Manager"], users["User"])
    assert list(order.timeline.values_list("seq", "kind")) == [(1, OrderEvent.Kind.ORDER_CREATED)]


@pytest.mark.parametrize("who", ["Viewer", "User"])
def test_only_staff_with_create_rights_reach_the_add_form(client, users, who):
    client.force_login(users[who])
    assert client.get(f"{CHANGELIST}add/").status_code == 302  # not staff: admin login


@pytest.mark.parametrize("status", sorted(Order.CLOSED))
def test_editing_a_closed_order_in_the_admin_is_refused_cleanly(client, users, orders, status):
    client.force_login(users["Manager"])
    order = orders["other"]
    Order.objects.filter(pk=order.pk).update(status=status)
    data = {
        "event": order.event.pk,
        "assigned_to": "",
        "customer_name": "Edited after closing",
        "customer_email": "",
        "order_date_0": order.order_date.strftime("%Y-%m-%d"),
        "order_date_1": order.order_date.strftime("%H:%M:%S"),
        "notes": "",
        "metadata": "{}",
        **inline_management_data(order),
    }

    page = client.get(f"{CHANGELIST}{order.pk}/change/")
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False  # shown read-only

    response = client.post(f"{CHANGELIST}{order.pk}/change/", data)

    assert response.status_code in (200, 403)  # a form error or a refusal, not a crash
    assert Order.objects.get(pk=order.pk).customer_name == "Test Customer"
    assert OrderEvent.objects.filter(order=order).count() == 1


def inline_management_data(order) -> dict:
    data = {}
    for prefix, count in (("images", order.images.count()), ("timeline", order.timeline.count())):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": str(count),
                f"{prefix}-INITIAL_FORMS": str(count),
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    for i, entry in enumerate(order.timeline.order_by("-seq")):
        data[f"timeline-{i}-id"] = str(entry.pk)
        data[f"timeline-{i}-order"] = str(order.pk)
    for i, image in enumerate(order.images.all()):
        data[f"images-{i}-id"] = str(image.pk)
        data[f"images-{i}-order"] = str(order.pk)
    return data


def test_manager_sees_an_orders_audit_history(client, users, orders):
    order = orders["other"]
    order.notes = "changed for the history"
    order.save()
    client.force_login(users["Manager"])

    url = reverse("admin:orders_order_auditlog", args=[order.pk])
    response = client.get(url)

    assert response.status_code == 200
    entries = list(response.context["log_entries"])
    assert {e.action for e in entries} == {LogEntry.Action.CREATE, LogEntry.Action.UPDATE}
    assert all(e.object_pk == str(order.pk) for e in entries)


def test_audit_history_is_closed_to_non_staff(client, users, orders):
    client.force_login(users["User"])
    url = reverse("admin:orders_order_auditlog", args=[orders["user"].pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_processing_orders_date_is_shown_not_offered_in_the_admin(client, users, orders):
    """The PMR has the date once the order is processing (services.update_order refuses a
    change): the admin shows it read-only, and the other fields still save."""
    client.force_login(users["Manager"])
    order = orders["other"]
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING)
    page = client.get(f"{CHANGELIST}{order.pk}/change/")
    assert "order_date" not in page.context["adminform"].form.fields
    data = {
        "event": order.event.pk,
        "assigned_to": "",
        "customer_name": "Edited while processing",
        "customer_email": "",
        "order_date_0": "2020-01-01",  # ignored: not a field of the form any more
        "order_date_1": "00:00:00",
        "notes": "",
        "metadata": "{}",
        **inline_management_data(order),
    }
    response = client.post(f"{CHANGELIST}{order.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    stored = Order.objects.get(pk=order.pk)
    assert stored.customer_name == "Edited while processing"
    assert stored.order_date == order.order_date
