"""Celery tasks of the AI step (queue ``ai`` by CELERY_TASK_ROUTES): thin, idempotent."""

from celery import shared_task

from orders.models import Image, Order
from orders.sweep import requeue_orphans
from utilities.infrastructure import retry_on_outage

from . import approval, services, sweep


@shared_task(acks_late=True, **retry_on_outage())
def process_order(order_id: int) -> int:
    """Queue ``process_image`` for every image of the order waiting for AI; returns the count."""
    try:
        return services.start_order_processing(order_id)
    except Order.DoesNotExist:
        return 0


@shared_task(acks_late=True, **retry_on_outage())
def process_image(image_id: int) -> str:
    """Run the order's preset on one image. Safe to run twice; returns the image's status.

    An outage of Redis or the database (the lease, the breaker, the slots, the cache, the
    rows) retries the task with a growing delay; it never fails the image."""
    try:
        return services.process_image(image_id).status
    except Image.DoesNotExist:
        return "deleted"


@shared_task(**retry_on_outage())
def sweep_stuck() -> dict[str, int]:
    """Beat (``SWEEP_INTERVAL_SECONDS``, on the default queue): queue again the AI step of
    images nobody works on, and settle orders whose images are all done."""
    return sweep.sweep()


@shared_task(**retry_on_outage())
def sweep_orphaned() -> int:
    """Beat (``ORPHAN_SWEEP_SECONDS``, on the default queue): queue again the AI step of
    images whose worker died mid-image (``orders.sweep.requeue_orphans``); how many."""
    return requeue_orphans(
        step="ai",
        claims=services.CLAIMS_KEY,
        lease_key=services.lease_key,
        queue=services.queue_image,
    )


@shared_task(**retry_on_outage())
def sweep_auto_approve() -> int:
    """Beat (``AUTO_APPROVE_INTERVAL_SECONDS``, on the default queue): approve the orders
    awaiting approval whose waiting time passed with no objection; returns how many."""
    return approval.auto_approve_due()
