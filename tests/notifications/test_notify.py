"""Who is notified of what, through which channels, and never twice (services, no queue)."""

from __future__ import annotations

import pytest

from accounts import services as account_services
from notifications import compose, services
from notifications.models import Delivery, Kind, Notification
from orders import services as order_services
from orders.models import Order
from tests.conftest import make_user

from .conftest import NEEDS_REVIEW, complete, move, notify_for, recipients

pytestmark = pytest.mark.django_db


def test_completed_order_notifies_creator_and_assignee_only(users, make_order):
    order = make_order(users["User"], assigned_to=users["User"])
    order_services.assign_order(order, users["other"], actor=users["Manager"])
    entry = complete(order)

    made = notify_for(entry)

    assert recipients(entry) == {users["User"].username, users["other"].username}
    assert {n.kind for n in made} == {Kind.ORDER_COMPLETED}
    first = made[0]
    assert first.title == f"Order {order.order_ref} is completed"
    assert first.url == f"/orders/{order.order_ref}/"
    assert first.order_id == order.pk


def test_needs_review_also_reaches_those_who_can_review(users, make_order):
    order = make_order(users["User"])
    entry = move(order, "pending", "processing", NEEDS_REVIEW)

    notify_for(entry)

    # Managers and Admins answer the review queue; the Viewer sees the order but cannot act.
    assert recipients(entry) == {
        users["User"].username,
        users["Manager"].username,
        users["Admin"].username,
    }
    manager_note = Notification.objects.get(
        user=users["Manager"], source_key__endswith=str(entry.pk)
    )
    assert manager_note.url == f"/review/?q={order.order_ref}"
    owner_note = Notification.objects.get(user=users["User"], source_key__endswith=str(entry.pk))
    assert owner_note.url == f"/orders/{order.order_ref}/"


def test_pmr_refusal_reaches_owner_and_the_back_office(users, make_order):
    order = make_order(users["User"])
    entry = order_services.record_event(
        order, compose.PMR_WRITE_FAILED, {"entry": 1, "kind": "order_put", "error": "event closed"}
    )

    notify_for(entry)

    assert recipients(entry) == {
        users["User"].username,
        users["Manager"].username,
        users["Admin"].username,
    }
    owner = Notification.objects.get(user=users["User"], kind=Kind.PMR_REFUSED)
    assert "The PMR answered: event closed." in owner.body
    manager = Notification.objects.get(user=users["Manager"], kind=Kind.PMR_REFUSED)
    assert manager.url.startswith("/admin/pmr/outboxentry/?q=")


def test_nobody_is_told_about_an_order_they_cannot_view(users, make_order):
    order = make_order(users["User"], assigned_to=users["User"])
    order_services.assign_order(order, users["other"], actor=users["Manager"])
    account_services.set_role(users["other"], None)  # the assignee lost their role
    entry = complete(order)

    notify_for(entry)

    assert recipients(entry) == {users["User"].username}


def test_running_twice_makes_and_sends_nothing_more(users, make_order):
    order = make_order(users["User"])
    entry = complete(order)
    settings_ = {"notifications": {"order_completed": {"email": True}}}
    account_services.update_settings(users["User"], settings_)

    first = notify_for(entry)
    again = notify_for(entry)
    entry.save()  # re-saved: the hook ignores updates, and the task would find the rows
    third = notify_for(entry)

    assert len(first) == 1
    assert again == []
    assert third == []
    assert Notification.objects.filter(user=users["User"]).count() == 1
    assert Delivery.objects.filter(notification__user=users["User"]).count() == 1


def test_preferences_pick_the_channels(users, make_order):
    owner = make_user("User")
    account_services.update_settings(
        owner,
        {
            "notifications": {
                "order_completed": {"in_app": False, "browser": True, "email": True},
                "order_needs_review": {"in_app": False, "browser": False, "email": False},
            }
        },
    )
    completed = complete(make_order(owner))
    review = move(make_order(owner), "pending", "processing", NEEDS_REVIEW)

    notify_for(completed)
    notify_for(review)

    note = Notification.objects.get(user=owner)  # nothing at all for the review: all off
    assert note.kind == Kind.ORDER_COMPLETED
    assert (note.in_app, note.browser) == (False, True)
    assert list(note.deliveries.values_list("channel", "target")) == [("email", owner.email)]
    assert not Notification.objects.for_user(owner).in_app().exists()  # not in the centre


def test_default_preferences_email_for_review_not_for_completed(users, make_order):
    owner = make_user("User")
    notify_for(complete(make_order(owner)))
    notify_for(move(make_order(owner), "pending", "processing", NEEDS_REVIEW))

    channels = {
        n.kind: sorted(n.deliveries.values_list("channel", flat=True))
        for n in Notification.objects.filter(user=owner)
    }
    assert channels == {Kind.ORDER_COMPLETED: [], Kind.ORDER_NEEDS_REVIEW: ["email"]}


def test_a_notification_disappears_when_its_order_is_no_longer_visible(users, make_order):
    order = make_order(users["Manager"], assigned_to=users["User"])
    notify_for(complete(order))
    assert Notification.objects.for_user(users["User"]).count() == 1

    order.assigned_to = None
    order.save(update_fields=["assigned_to"])

    assert Notification.objects.for_user(users["User"]).count() == 0
    assert Notification.objects.for_user(users["Manager"]).count() == 1


def test_other_timeline_entries_notify_nobody(users, make_order):
    order = make_order(users["User"])
    entry = move(order, "pending")
    assert compose.for_order_event(entry) == []
    assert services.notify(compose.for_order_event(entry)) == []


def test_an_order_stopped_short_by_failed_images_says_so(users, make_order):
    """Failed images stop an order in review (issue 11): the notice names the failure and
    what it takes, and leads to the order page (the review queue has nothing to answer)."""
    order = make_order(users["User"])
    Order.objects.filter(pk=order.pk).update(total_images=3, failed_images=2)
    entry = move(order, "pending", "processing", NEEDS_REVIEW)

    notify_for(entry)

    note = Notification.objects.get(user=users["Manager"], source_key=f"order-event:{entry.pk}")
    assert note.title == f"Order {order.order_ref} needs review"
    assert "2 images failed" in note.body
    assert "nothing goes to the PMR until they are retried" in note.body
    assert note.url == f"/orders/{order.order_ref}/"


def test_a_failed_order_is_told_like_one_in_review(users, make_order):
    order = make_order(users["User"])
    Order.objects.filter(pk=order.pk).update(total_images=1, failed_images=1)
    entry = move(order, "pending", "failed")

    notify_for(entry)

    assert recipients(entry) == {
        users["User"].username,
        users["Manager"].username,
        users["Admin"].username,
    }
    note = Notification.objects.get(user=users["User"], source_key=f"order-event:{entry.pk}")
    assert note.kind == Kind.ORDER_NEEDS_REVIEW
    assert note.title == f"Order {order.order_ref} failed"
    assert "1 image failed" in note.body
