"""Hold for approval, through the services: the rule, the hold before the PMR outbox, the
answers (approve, turn down and redo, hand edit), auto-approval by the beat task, and what
people read (timeline, guidance, notifications, the dashboard panel, the audit log)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.roles import ADMIN, USER, VIEWER
from ai_processing import approval, hold, services, tasks
from ai_processing.models import ProcessingPreset
from ai_processing.timeline import AI_COMPLETED
from events.models import Event
from notifications import compose
from orders import attention, guidance, pipeline, timeline
from orders.models import Image, Order, OrderEvent
from tests.ai_processing.approval import delivered, delivery_rows, held_order, hold_preset
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.conftest import make_user
from tests.pmr.conftest import jpeg
from tests.timeline_checks import assert_timeline_reads_well
from utilities import access
from utilities.errors import OrderError

pytestmark = pytest.mark.django_db
S = Order.Status


@pytest.fixture(autouse=True)
def _media(media_root):
    return media_root


def kinds(order: Order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))


def test_a_hold_preset_stops_the_order_before_the_pmr_outbox(ingested_order):
    order = ingested_order("colour-correct-only", 2)
    order.preset.hold_for_approval = True
    order.preset.save()
    for image in order.images.all():
        services.process_image(image.pk)
    order.refresh_from_db()
    assert order.status == S.AWAITING_APPROVAL
    assert not order.ai_processed
    assert order.approval_rule == "preset"
    assert not delivery_rows(order).exists()
    assert AI_COMPLETED not in kinds(order)
    assert set(order.images.values_list("status", flat=True)) == {Image.Status.PROCESSED}
    assert "wait for approval before anything goes to the PMR" in guidance.next_step(order)


def test_approving_image_by_image_delivers_once_after_the_last(make_order, manager):
    order = held_order(make_order, manager, 2)
    first, second = order.images.order_by("pk")
    approval.approve_image(first, actor=manager)
    order.refresh_from_db()
    assert order.status == S.AWAITING_APPROVAL
    assert not delivery_rows(order).exists()
    first.refresh_from_db()
    assert first.approved_at is not None
    assert first.approved_by == manager

    approval.approve_image(second, actor=manager)
    order.refresh_from_db()
    assert order.status == S.PROCESSING
    assert order.ai_processed
    assert delivered(order) == (2, 1)
    sent = delivery_rows(order).count()
    assert kinds(order).count(AI_COMPLETED) == 1
    assert kinds(order).count(OrderEvent.Kind.IMAGE_APPROVED) == 2
    assert_timeline_reads_well(order)
    # Approved and gone: answering again is a sentence (409 in the API), nothing more is sent.
    with pytest.raises(OrderError, match="not awaiting approval"):
        approval.approve_image(second, actor=manager)
    assert delivery_rows(order).count() == sent


def test_approving_the_order_approves_every_waiting_image(make_order, manager):
    order = held_order(make_order, manager, 3)
    assert approval.approve_order(order, actor=manager) == 3
    order.refresh_from_db()
    assert order.ai_processed
    assert order.status == S.PROCESSING
    assert not order.images.filter(approved_at__isnull=True).exists()
    entry = OrderEvent.objects.get(order=order, kind=OrderEvent.Kind.ORDER_APPROVED)
    assert entry.payload == {"images": 3, "auto": False}
    assert entry.actor == manager
    text = timeline.describe([entry])[0].text
    assert text == "Approved (3 images); on to the PMR"
    # The audit log has who approved each image.
    image = order.images.first()
    changes = LogEntry.objects.get_for_object(image).filter(changes__icontains="approved_at")
    assert changes.exists()


def test_the_event_setting_wins_over_the_preset(make_order, manager, event):
    event.hold_for_approval = Event.Hold.RELEASE
    event.save()
    order = make_order(manager, preset=hold_preset())
    assert hold.rule_for(order) == hold.HoldRule(False, source="event")

    event.hold_for_approval = Event.Hold.HOLD
    event.owner_may_approve = True
    event.auto_approve_hours = 6
    event.save()
    order = make_order(manager, preset=preset("colour-correct-only"))
    rule = hold.rule_for(Order.objects.get(pk=order.pk))
    assert rule == hold.HoldRule(True, True, 6, "event")

    event.hold_for_approval = Event.Hold.PRESET
    event.save()
    assert not hold.rule_for(Order.objects.get(pk=order.pk)).hold


def test_an_event_that_never_holds_lets_a_hold_preset_deliver(make_order, manager, event):
    event.hold_for_approval = Event.Hold.RELEASE
    event.save()
    order = make_order(manager, preset=hold_preset())
    from tests.pmr.conftest import add_processed_images

    add_processed_images(order, 1)
    Order.objects.filter(pk=order.pk).update(status=S.PROCESSING)
    pipeline.ai_settled(Order.objects.get(pk=order.pk))
    order.refresh_from_db()
    assert order.ai_processed
    assert order.status == S.PROCESSING
    assert delivered(order) == (1, 1)


def test_turning_down_an_image_redoes_it_and_holds_again(ingested_order, manager):
    order = ingested_order("colour-correct-only", 2)
    order.preset.hold_for_approval = True
    order.preset.save()
    for image in order.images.all():
        services.process_image(image.pk)
    first, second = order.images.order_by("pk")
    approval.approve_image(first, actor=manager)

    other = ProcessingPreset.objects.create(
        name="Edit again", slug="edit-again", operations=["edit"]
    )
    approval.reject_image(second, actor=manager, reason="too dark", preset=other)
    second.refresh_from_db()
    order.refresh_from_db()
    assert second.status == Image.Status.INGESTED
    assert second.ai_metadata[services.PRESET_OVERRIDE] == other.slug
    assert order.status == S.NEEDS_REVIEW
    reasons = list(
        OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.IMAGE_STATUS)
        .filter(payload__to="needs_review")
        .values_list("payload__reason", flat=True)
    )
    assert any("Turned down at approval by" in r and "too dark" in r for r in reasons)

    services.process_image(second.pk)  # the redo (no worker in this test)
    order.refresh_from_db()
    second.refresh_from_db()
    assert order.status == S.AWAITING_APPROVAL, (second.status, second.status_reason)
    first.refresh_from_db()
    assert first.approved_at is not None  # the untouched image stays approved
    assert list(hold.unapproved(order)) == [second]
    assert not delivery_rows(order).exists()
    approval.approve_image(second, actor=manager)
    order.refresh_from_db()
    assert order.ai_processed
    assert delivered(order) == (2, 1)


def test_the_orders_user_turns_down_and_uploads_a_hand_edit_when_allowed(make_order, users):
    owner = users["User"]
    order = held_order(make_order, owner, 2, owner_may_approve=True)
    assert order.approval_owner_may_approve
    image = order.images.order_by("pk").first()
    approval.reject_image(image, actor=owner, reason="crop is off")
    image.refresh_from_db()
    assert image.status == Image.Status.NEEDS_REVIEW
    assert image.review_reason == Image.ReviewReason.APPROVAL
    services.replace_with_hand_edit(image, jpeg(7, (64, 48)), filename="fixed.jpg", actor=owner)
    image.refresh_from_db()
    order.refresh_from_db()
    assert image.status == Image.Status.PROCESSED
    assert image.approved_at is None
    assert order.status == S.AWAITING_APPROVAL
    assert approval.approve_order(order, actor=owner) == 2
    order.refresh_from_db()
    assert order.ai_processed


def test_a_user_without_the_flag_and_a_viewer_may_not_answer(make_order, users):
    order = held_order(make_order, users["User"], 1)
    image = order.images.get()
    for who in ("User", "Viewer", "other"):
        with pytest.raises(PermissionDenied):
            approval.approve_image(image, actor=users[who])
        with pytest.raises(PermissionDenied):
            approval.reject_image(image, actor=users[who])
    order.refresh_from_db()
    assert order.status == S.AWAITING_APPROVAL


def test_the_access_rule_per_role(make_order, users):
    with_flag = held_order(make_order, users["User"], 1, owner_may_approve=True)
    without = held_order(make_order, users["User"], 1)
    foreign = held_order(make_order, users["other"], 1, owner_may_approve=True)
    expected = {
        "Admin": (True, True, True),
        "Manager": (True, True, True),
        "User": (True, False, False),
        "Viewer": (False, False, False),
    }
    for who, answers in expected.items():
        got = tuple(
            access.can(users[who], access.Action.APPROVE, o) for o in (with_flag, without, foreign)
        )
        assert got == answers, who
        scoped = set(Order.objects.restrict(users[who], access.Action.APPROVE))
        assert scoped == {
            o for o, yes in zip((with_flag, without, foreign), answers, strict=True) if yes
        }


def test_auto_approval_by_the_beat_task_after_the_waiting_time(make_order, manager):
    order = held_order(make_order, manager, 2, hours=24)
    assert order.approval_due_at is not None
    due = order.approval_due_at
    assert timedelta(hours=23) < due - timezone.now() <= timedelta(hours=24)
    assert "approved by itself on" in guidance.next_step(order)
    assert approval.auto_approve_due(now=due - timedelta(minutes=1)) == 0
    order.refresh_from_db()
    assert order.status == S.AWAITING_APPROVAL

    schedule = django_settings.CELERY_BEAT_SCHEDULE["auto-approve-due"]
    assert schedule["task"] == "ai_processing.tasks.sweep_auto_approve"
    Order.objects.filter(pk=order.pk).update(approval_due_at=timezone.now() - timedelta(seconds=1))
    assert tasks.sweep_auto_approve.apply().get() == 1
    order.refresh_from_db()
    assert order.ai_processed
    assert order.status == S.PROCESSING
    entry = OrderEvent.objects.get(order=order, kind=OrderEvent.Kind.ORDER_APPROVED)
    assert entry.payload["auto"] is True
    assert entry.actor is None
    assert timeline.describe([entry])[0].text.startswith("Approved by itself")
    assert delivered(order) == (2, 1)
    assert tasks.sweep_auto_approve.apply().get() == 0  # once


def test_an_objection_stops_the_auto_approval(make_order, manager):
    order = held_order(make_order, manager, 2, hours=1)
    approval.reject_image(order.images.first(), actor=manager, reason="no")
    Order.objects.filter(pk=order.pk).update(approval_due_at=timezone.now() - timedelta(hours=1))
    assert approval.auto_approve_due() == 0
    order.refresh_from_db()
    assert order.status == S.NEEDS_REVIEW
    assert not order.ai_processed


def test_reprocessing_forgets_approvals(make_order, manager):
    order = held_order(make_order, manager, 2)
    approval.approve_image(order.images.first(), actor=manager)
    services.reprocess_order(order, actor=manager, preset=preset("natural-retouch"))
    order.refresh_from_db()
    assert order.status == S.PROCESSING
    assert not order.images.filter(approved_at__isnull=False).exists()


def test_awaiting_approval_notifies_the_approvers_and_approval_the_owner(make_order, users):
    manager, admin = users["Manager"], users["Admin"]
    owner = make_user(USER)
    order = held_order(make_order, owner, 1, owner_may_approve=True)
    entry = OrderEvent.objects.filter(
        order=order, kind=OrderEvent.Kind.ORDER_STATUS, payload__to=S.AWAITING_APPROVAL
    ).get()
    told = {user.pk: message for user, message in compose.for_order_event(entry)}
    assert {owner.pk, manager.pk, admin.pk} <= set(told)
    assert users["Viewer"].pk not in told
    assert told[manager.pk].title == f"Order {order.order_ref} awaits approval"
    assert told[owner.pk].url == f"/orders/{order.order_ref}/approval/"  # the flag: may approve

    approval.approve_order(order, actor=manager)
    entry = OrderEvent.objects.get(order=order, kind=OrderEvent.Kind.ORDER_APPROVED)
    told = {user.pk: message for user, message in compose.for_order_event(entry)}
    assert set(told) == {owner.pk}
    assert f"by {manager}" in told[owner.pk].body

    # Whoever approved is not told of their own approval.
    again = held_order(make_order, owner, 1, owner_may_approve=True)
    approval.approve_order(again, actor=owner)
    entry = OrderEvent.objects.get(order=again, kind=OrderEvent.Kind.ORDER_APPROVED)
    assert compose.for_order_event(entry) == []


def test_the_dashboard_panel_names_orders_waiting_for_approval(make_order, users):
    mine = held_order(make_order, users["User"], 1, owner_may_approve=True)
    theirs = held_order(make_order, users["User"], 1)
    report = attention.collect(users["Manager"])
    item = next(i for i in report.items if i.key == "approval.yours")
    assert "2 orders await your approval" in item.text
    report = attention.collect(users["User"])
    keys = {i.key: i for i in report.items}
    assert "1 of your orders awaits your approval" in keys["approval.yours"].text
    assert keys["approval.yours"].links[0].label == mine.order_ref
    assert "awaits a manager's approval" in keys["approval.others"].text
    assert report.flags[theirs.pk] == "Waits for a manager's approval."
    assert attention.collect(make_user(VIEWER)).flags[mine.pk] == (
        "Waits for a manager's approval."
    )


def test_no_images_join_an_order_awaiting_approval(make_order, manager):
    from orders import intake

    order = held_order(make_order, manager, 1)
    with pytest.raises(OrderError, match="awaiting approval of its results"):
        intake.add_image(
            order, source=io.BytesIO(jpeg(99)), filename="late.jpg", actor=make_user(ADMIN)
        )
    assert order.images.count() == 1
