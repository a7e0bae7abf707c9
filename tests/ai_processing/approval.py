"""Helpers of the hold-for-approval tests: a hold preset, and orders held for approval.

``held_order`` makes an order whose images are processed (small real JPEGs, no AI call)
and lets the pipeline's own settling step hold it, so the tests start where a real order
stops: ``awaiting_approval``, nothing written for the PMR.
"""

from __future__ import annotations

import itertools

from django.db import transaction

from ai_processing.models import ProcessingPreset
from orders import pipeline
from orders import services as order_services
from orders.models import Order
from pmr.models import OutboxEntry
from tests.pmr.conftest import add_processed_images

_counter = itertools.count(1)


def hold_preset(*, owner_may_approve: bool = False, hours: int | None = None, **gate):
    """A fresh preset that holds its orders for approval."""
    n = next(_counter)
    return ProcessingPreset.objects.create(
        name=f"Hold {n}",
        slug=f"hold-{n}",
        operations=["analyze", "edit"],
        edit_prompt="Correct exposure only.",
        hold_for_approval=True,
        owner_may_approve=owner_may_approve,
        auto_approve_hours=hours,
        **gate,
    )


def held_order(make_order, owner, n: int = 2, **rule) -> Order:
    """An order of ``owner`` with ``n`` processed images, held by its preset (``rule``: the
    preset's ``owner_may_approve``, ``hours``)."""
    order = make_order(owner, preset=hold_preset(**rule))
    add_processed_images(order, n)
    order_services.refresh_image_counters(order.pk)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING)
    with transaction.atomic():
        pipeline.ai_settled(Order.objects.get(pk=order.pk))
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_APPROVAL, order.status
    return order


def delivered(order: Order) -> tuple[int, int]:
    """How many images the order's outbox delivers (each as several files: its original, its
    edited file, its prints) and how many finishing rows it has."""
    rows = delivery_rows(order)
    images = rows.filter(kind=OutboxEntry.Kind.IMAGE_PUT).values("image_id").distinct().count()
    return images, rows.filter(kind=OutboxEntry.Kind.ORDER_FINISH).count()


def delivery_rows(order: Order):
    """The PMR outbox rows that carry the order's result (images and the finish)."""
    return OutboxEntry.objects.filter(
        order=order, kind__in=(OutboxEntry.Kind.IMAGE_PUT, OutboxEntry.Kind.ORDER_FINISH)
    )
