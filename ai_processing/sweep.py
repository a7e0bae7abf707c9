"""The beat's sweep of the AI step: images nobody works on, orders nobody settled.

Same rule as the ingest sweep (``orders.sweep``, which explains it): an image waiting for
the AI step (``ingested`` or ``analyzed``) of an order in pending, processing or review,
unmoved for ``STUCK_AFTER_SECONDS``, whose AI lease no worker holds, is queued again. And an
order in processing or review whose images are all done but that was never settled (its
settling transaction lost to a crash) is settled: delivered, or stopped short.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from orders.models import Image, Order
from orders.sweep import BATCH, requeue_stuck

from . import services

#: Orders whose waiting images the AI step takes (a pending order's images start early).
ACTIVE = (Order.Status.PENDING, Order.Status.PROCESSING, Order.Status.NEEDS_REVIEW)


def settle_finished_orders() -> int:
    cutoff = timezone.now() - timedelta(seconds=float(settings.STUCK_AFTER_SECONDS))
    ids = list(
        Order.objects.filter(
            status=Order.Status.PROCESSING, ai_processed=False, updated_at__lt=cutoff
        )
        .exclude(images__status__in=services.NOT_DONE)
        .values_list("pk", flat=True)
        .distinct()[:BATCH]
    )
    for order_id in ids:
        services.start_order_processing(order_id)  # nothing waits: it settles the order
    return len(ids)


def sweep() -> dict[str, int]:
    return {
        "ai_requeued": requeue_stuck(
            Image.objects.filter(status__in=services.WAITING, order__status__in=ACTIVE),
            step="ai",
            lease_key=services.lease_key,
            queue=services.queue_image,
        ),
        "orders_settled": settle_finished_orders(),
    }
