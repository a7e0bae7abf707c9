"""A write the PMR refuses (a 4xx): the row fails, the order's later rows wait, and the back
office gets it moving again: "retry" after the cause is fixed, "skip", or "mark uploaded by
hand". Drained in this process against the simulator (the worker tests cover the queue)."""

from __future__ import annotations

import os

import pytest

from orders import timeline
from orders.models import Image, Order, OrderEvent
from pmr import drain
from pmr.models import OrderDelivery, OutboxEntry
from pmr.timeline import MANUAL_EVENT, SKIPPED_EVENT
from tests.timeline_checks import assert_timeline_reads_well

from .conftest import remote_order, rows

pytestmark = pytest.mark.django_db
K, State = OutboxEntry.Kind, OutboxEntry.State


def close_event(sim, event, status="closed"):
    sim.add_events([{"event_id": event.event_id, "name": event.name, "status": status}], [])


def admin_action(client, users, model: str, action: str, ids) -> None:
    admin = users["Admin"]
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    client.force_login(admin)
    response = client.post(
        f"/admin/{model}/", {"action": action, "_selected_action": [str(i) for i in ids]}
    )
    assert response.status_code == 302, response.content[:500]


def test_event_closed_fails_the_row_and_later_rows_wait_then_retry_drains(
    sim, pmr_event, ai_done_order, client, users
):
    order = ai_done_order(3)
    close_event(sim, pmr_event)  # closed in the PMR after the order was taken

    result = drain.drain_order(order.pk)

    assert result.blocked
    assert result.sent == 0
    head = rows(order).first()
    assert (head.kind, head.state) == (K.ORDER_PUT, State.FAILED)
    assert head.last_error["code"] == "event_closed"
    assert head.last_error["status"] == 409
    assert not rows(order).exclude(pk=head.pk).exclude(state=State.PENDING).exists()
    assert remote_order(sim, order) is None  # nothing after the refusal was sent
    assert OrderEvent.objects.filter(order=order, kind=drain.FAILED_EVENT).count() == 1
    page = client_page(client, users, order)
    assert "The PMR refused a write" in page
    # Draining again sends nothing: the failed row holds the queue.
    assert drain.drain_order(order.pk).blocked
    assert remote_order(sim, order) is None

    close_event(sim, pmr_event, "open")  # fixed in the PMR
    admin_action(client, users, "pmr/outboxentry", "retry_entries", [head.pk])
    head.refresh_from_db()
    assert head.state == State.PENDING
    result = drain.drain_order(order.pk)

    assert not result.blocked
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert order.pmr_synced
    remote = remote_order(sim, order)
    assert remote["status"] == "completed"
    assert sorted(img["writes"] for img in remote["images"]) == [1, 1, 1]
    assert not rows(order).exclude(state=State.DONE).exists()


def client_page(client, users, order) -> str:
    client.force_login(users["Admin"])
    response = client.get(f"/orders/{order.order_ref}/")
    assert response.status_code == 200
    return response.content.decode()


def test_skip_moves_the_queue_on(sim, pmr_event, ai_done_order, client, users):
    order = ai_done_order(3)
    missing = order.images.order_by("pk")[1]
    os.remove(missing.processed.path)  # the row cannot be sent: refused before any call

    result = drain.drain_order(order.pk)

    assert result.blocked
    bad = rows(order, image=missing, state=State.FAILED).get()
    assert bad.payload["variant"] == "edited"  # its original went; its edited file cannot
    assert bad.last_error["code"] == "file_missing"
    finish = rows(order, kind=K.ORDER_FINISH).get()
    assert finish.state == State.PENDING
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING

    admin_action(client, users, "pmr/outboxentry", "skip_entries", [bad.pk])
    bad.refresh_from_db()
    assert bad.state == State.SKIPPED
    skipped = OrderEvent.objects.get(order=order, kind=SKIPPED_EVENT)
    assert skipped.payload["file"] == {"variant": "edited"}
    names = {"image": missing.original_filename}
    assert timeline.sentence(SKIPPED_EVENT, skipped.payload, names) == (
        f"Sending the edited file of image {missing.original_filename} to the PMR was skipped:"
        " admin action"
    )
    failed = OrderEvent.objects.get(order=order, kind=drain.FAILED_EVENT)
    assert timeline.sentence(drain.FAILED_EVENT, failed.payload, names).startswith(
        f"The PMR refused the edited file of image {missing.original_filename}: "
    )
    drain.drain_order(order.pk)

    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    remote = remote_order(sim, order)
    # Skipping the edited file leaves the image in (by its original), without that file.
    assert len(remote["images"]) == 3
    assert remote["expected_image_count"] == 3
    assert remote["status"] == "completed"
    ref = f"img-{missing.pk}"
    assert [f["variant"] for f in remote["files"] if f["image_ref"] == ref] == ["original"]
    assert len(remote["files"]) == 5
    assert Image.objects.get(pk=missing.pk).status == Image.Status.SYNCED
    assert {SKIPPED_EVENT, drain.FAILED_EVENT} <= assert_timeline_reads_well(order)


def test_skipping_an_original_leaves_the_image_out(sim, pmr_event, ai_done_order, client, users):
    order = ai_done_order(3)
    missing = order.images.order_by("pk")[1]
    os.remove(missing.original.path)

    assert drain.drain_order(order.pk).blocked
    bad = rows(order, image=missing, state=State.FAILED).get()
    assert bad.payload["variant"] == "original"
    admin_action(client, users, "pmr/outboxentry", "skip_entries", [bad.pk])
    drain.drain_order(order.pk)

    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    remote = remote_order(sim, order)
    # The PMR counts images by their original: two images, though the third's edited file
    # was delivered too (a file of an image the PMR was told not to expect).
    assert remote["expected_image_count"] == 2
    assert len(remote["images"]) == 2
    assert remote["status"] == "completed"
    assert Image.objects.get(pk=missing.pk).status == Image.Status.PROCESSED  # left out


def test_mark_uploaded_by_hand_completes_and_records_who(
    sim, pmr_event, ai_done_order, client, users
):
    order = ai_done_order(2)
    close_event(sim, pmr_event)
    drain.drain_order(order.pk)
    open_rows = list(rows(order).exclude(state__in=OutboxEntry.FINAL).values_list("pk", flat=True))
    assert len(open_rows) == 6  # order put (failed), 2 images (original, edited), finish

    admin_action(client, users, "orders/order", "mark_uploaded_by_hand", [order.pk])

    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert order.pmr_synced
    delivery = OrderDelivery.objects.get(order=order)
    assert delivery.uploaded_by_hand
    assert delivery.uploaded_by_hand_by == users["Admin"]
    event = OrderEvent.objects.get(order=order, kind=MANUAL_EVENT)
    assert event.actor == users["Admin"]
    assert event.payload["skipped"] == 6
    assert set(OutboxEntry.objects.filter(pk__in=open_rows).values_list("state", flat=True)) == {
        State.SKIPPED
    }
    assert "Uploaded to the PMR by hand" in client_page(client, users, order)
    # The "completed" the order moved to is not pushed: the automation stays out of it.
    assert not rows(order).exclude(state__in=OutboxEntry.FINAL).exists()
    assert MANUAL_EVENT in assert_timeline_reads_well(order)


def test_a_user_may_not_override(sim, pmr_event, ai_done_order, users):
    from django.core.exceptions import PermissionDenied

    from pmr import services

    order = ai_done_order(1, owner=users["User"])
    close_event(sim, pmr_event)
    drain.drain_order(order.pk)
    failed = rows(order, state=State.FAILED).get()
    for call in (
        lambda: services.retry_entry(failed, actor=users["User"]),
        lambda: services.skip_entry(failed, actor=users["User"]),
        lambda: services.mark_uploaded_by_hand(order, actor=users["User"]),
    ):
        with pytest.raises(PermissionDenied):
            call()
    failed.refresh_from_db()
    assert failed.state == State.FAILED
