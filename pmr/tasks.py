"""Celery tasks of the PMR step (queue ``pmr``): thin; the work is in drain/status/lookups."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from utilities.infrastructure import retry_on_outage
from utilities.redis_clients import shared
from utilities.redis_scripts import DRAIN_ARRIVED, DRAIN_CLAIM

from . import drain, status
from .models import OutboxEntry


@shared_task(acks_late=True, **retry_on_outage())
def drain_order(order_id: int) -> dict:
    """Send the order's outbox; when rows must wait, come back when the first is due."""
    _arrived(order_id)
    result = drain.drain_order(order_id)
    scheduled = False
    if result.retry_at is not None:
        scheduled = schedule_drain(order_id, result.retry_at)
    return {
        "sent": result.sent,
        "busy": result.busy,
        "blocked": result.blocked,
        "scheduled": scheduled,
    }


# One scheduled drain per order: the earliest wins. Without this, every drain that found the
# order waiting (the beat sweep's, a duplicate message's, a busy one's) would start a chain of
# its own, and the chains would multiply for as long as the PMR is away
# (``utilities.redis_scripts.DRAIN_CLAIM`` and ``DRAIN_ARRIVED``).


def _next_key(order_id: int) -> str:
    return f"rkh:pmr:drain:next:{order_id}"


def _arrived(order_id: int) -> None:
    now = timezone.now().timestamp()
    shared().eval(DRAIN_ARRIVED, 1, _next_key(order_id), now)


def schedule_drain(order_id: int, when) -> bool:
    """Queue the order's drain for ``when`` unless one as early is already queued.

    The countdown is at most half the broker's visibility timeout: a message held longer
    than that by a worker waiting for its time would be delivered again. A drain that wakes
    before its rows are due finds nothing to send and schedules the next one."""
    longest = max(0.5, settings.CELERY_VISIBILITY_TIMEOUT / 2)
    delay = min(longest, max(0.5, (when - timezone.now()).total_seconds()))
    at = timezone.now().timestamp() + delay
    # The claim outlives the message a little; if the message is lost, the sweep takes over.
    ttl_ms = int((delay + 60) * 1000)
    if not shared().eval(DRAIN_CLAIM, 1, _next_key(order_id), at, ttl_ms):
        return False
    drain_order.apply_async((order_id,), countdown=delay)
    return True


@shared_task
def drain_due() -> int:
    """Beat sweep: queue a drain for every order with a row due (a lost message, a restart)."""
    orders = (
        OutboxEntry.objects.filter(
            state=OutboxEntry.State.PENDING, next_attempt_at__lte=timezone.now()
        )
        .values_list("order_id", flat=True)
        .distinct()
    )
    ids = list(orders[:1000])
    for order_id in ids:
        drain_order.delay(order_id)
    return len(ids)


@shared_task(**retry_on_outage())
def apply_webhook(delivery_id: int) -> str:
    """Apply a verified webhook delivery (the view answered the PMR already)."""
    return status.apply_webhook(delivery_id)


@shared_task
def pull_updates() -> int:
    """Beat: ask the PMR which orders it changed since the last pull (missed webhooks)."""
    return status.pull_updates()
