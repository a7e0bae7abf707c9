"""The order page's PMR box: one function says what it shows, and the live state carries it.

``pmr.box.delivery_box`` is what the template renders and what every live order state holds
(``state["pmr"]``: the WebSocket, the polling timeline and the page's images JSON), so the
box follows the order without a reload. Changes without a timeline entry (the PMR cannot be
reached, the PMR's own status) ring the order's doorbell.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import transaction
from django.utils import timezone

from orders import live
from orders.models import Order
from pmr import drain, outbox
from pmr.box import delivery_box
from pmr.models import OrderDelivery, OutboxEntry
from tests.pmr.conftest import add_processed_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(manager, make_order, media_root):
    order = make_order(manager)
    add_processed_images(order, 2)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING, ai_processed=True)
    order.refresh_from_db()
    return order


def page(client, user, order) -> str:
    client.force_login(user)
    return client.get(f"/orders/{order.order_ref}/").content.decode()


def test_each_stage_of_the_delivery_has_a_sentence_and_a_tone(order, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    box = delivery_box(order)
    assert (box["state"], box["tone"]) == ("not_started", "muted")
    assert box["text"].startswith("Nothing sent yet")
    assert not box["has_images"]

    with transaction.atomic():
        outbox.deliver(order)
    box = delivery_box(order)
    assert (box["state"], box["tone"]) == ("uploading", "info")
    # Each image goes as its original and its edited file: the box counts files then.
    assert box["text"] == "Uploading: 0 of 4 files of 2 images delivered."
    assert box["has_images"]
    first = OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.IMAGE_PUT).first()
    OutboxEntry.objects.filter(pk=first.pk).update(state="done")
    assert (
        delivery_box(order)["text"] == "Uploading: 1 of 4 files of 2 images delivered: 1 original."
    )

    since = dt.datetime(2026, 12, 4, 8, 21, tzinfo=dt.UTC)
    OrderDelivery.objects.update_or_create(order=order, defaults={"waiting_since": since})
    box = delivery_box(order)
    assert (box["state"], box["tone"]) == ("waiting", "warning")
    # Local time (Berlin is UTC+1 in December), date and time apart: not "2026-12-0409:21".
    assert box["text"].startswith("Waiting for PMR since 4 Dec 2026, 09:21 — the PMR cannot")
    assert box["text"].endswith("1 of 4 files of 2 images delivered: 1 original.")

    OrderDelivery.objects.filter(order=order).update(
        waiting_since=None, last_error="The event is closed [422 event_closed]"
    )
    OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.IMAGE_PUT).update(state="failed")
    box = delivery_box(order)
    assert (box["state"], box["tone"]) == ("refused", "error")
    assert box["text"].startswith("The PMR refused a write: The event is closed. A manager")

    Order.objects.filter(pk=order.pk).update(pmr_synced=True)
    OrderDelivery.objects.filter(order=order).update(pmr_status="on_hold", pmr_status_reason="x")
    order.refresh_from_db()
    OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.IMAGE_PUT).update(state="done")
    box = delivery_box(order)
    assert (box["state"], box["tone"]) == ("delivered", "success")
    assert box["text"] == "Delivered: 2 images in the PMR (2 originals and 2 edited files)."
    assert (box["status"], box["status_label"], box["status_reason"]) == ("on_hold", "On hold", "x")


def test_a_cancelled_order_with_nothing_sent_says_so(order):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
    order.refresh_from_db()
    assert delivery_box(order)["text"] == "Nothing was sent to the PMR: the order is cancelled."


def test_the_page_renders_the_box_from_the_same_function(client, manager, order):
    with transaction.atomic():
        outbox.deliver(order)
    html = page(client, manager, order)
    box = delivery_box(order)
    assert (
        f'<p class="note info" data-testid="pmr-state" id="pmr-state" role="status">{box["text"]}'
        in html
    )
    assert 'id="pmr-status-line" hidden' in html  # no PMR status yet
    assert 'id="pmr-export">' in html  # a manager may export: there are images
    assert "js/pmr_box.js" in html


def test_the_live_state_carries_the_box(order):
    state = live.order_state(live.state_queryset().get(pk=order.pk))
    assert state["pmr"] == delivery_box(order)
    assert "pmr_synced" in live.order_fields()  # the part's field is loaded with the row


def test_polling_answers_carry_the_state_with_the_box(client, manager, order):
    with transaction.atomic():
        outbox.deliver(order)
    client.force_login(manager)
    body = client.get(f"/api/v1/orders/{order.order_ref}/timeline?after=0").json()
    assert body["state"]["pmr"]["text"] == "Uploading: 0 of 4 files of 2 images delivered."
    assert body["state"]["status"] == "processing"
    assert body["state"]["closed"] is False
    # Handed to the PMR delivery: no more images, though not closed.
    assert "has been handed to the PMR delivery" in body["state"]["closed_notice"]
    images = client.get(f"/orders/{order.order_ref}/images.json?after=0").json()
    assert images["order"]["pmr"] == body["state"]["pmr"]


def test_a_closed_order_says_no_more_images_in_its_state(order):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.COMPLETED)
    state = live.order_state(Order.objects.get(pk=order.pk))
    assert state["closed"] is True
    assert state["closed_notice"] == (
        f"Order {order.order_ref} is completed; no more images can be added."
    )


def test_delivery_changes_without_a_timeline_entry_ring_the_doorbell(
    order, monkeypatch, django_capture_on_commit_callbacks
):
    rung: list[tuple[int, int]] = []
    monkeypatch.setattr(live.publisher, "publish", lambda o, s: rung.append((o, s)))
    OrderDelivery.objects.create(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        drain._set_waiting(order.pk, "the PMR cannot be reached")
    assert rung == [(order.pk, 0)]
    with django_capture_on_commit_callbacks(execute=True):
        drain._set_waiting(order.pk, "still down")  # no change: no bell
    assert rung == [(order.pk, 0)]
    with django_capture_on_commit_callbacks(execute=True):
        drain._set_waiting(order.pk, None)
    assert rung == [(order.pk, 0), (order.pk, 0)]
    assert OrderDelivery.objects.get(order=order).waiting_since is None


def test_waiting_since_on_the_page_is_readable(client, manager, order, settings):
    settings.TIME_ZONE = "UTC"
    with transaction.atomic():
        outbox.deliver(order)
    OrderDelivery.objects.update_or_create(
        order=order, defaults={"waiting_since": timezone.now().replace(hour=9, minute=21)}
    )
    html = page(client, manager, order)
    assert re.search(r"Waiting for PMR since \d{1,2} [A-Z][a-z]{2} \d{4}, 09:21 — ", html)
