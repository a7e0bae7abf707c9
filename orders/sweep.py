"""Finding work nobody would do otherwise: the beat's sweep of the ingest step.

Work is done by messages on the queues, and a message can go missing: the broker was away
when a service queued it after its commit (``utilities.infrastructure.queue_after_commit``),
Redis lost the last second of writes, or a worker died holding it (the Redis transport gives
it back only after the visibility timeout). The sweep, run by beat every
``SWEEP_INTERVAL_SECONDS``, queues again every image of an open order that

- still waits for the step (here: ``uploaded``, for ingest),
- has not moved for ``STUCK_AFTER_SECONDS``, and
- whose lease no worker holds (a running ingest renews its lease: it is left alone).

A re-queued image is marked in Redis for ``STUCK_AFTER_SECONDS``, so an image that merely
waits its turn behind a long queue gets at most one extra message per period; the extra one
finds the image done (or being worked on) and returns at once. The AI step's sweep
(``ai_processing.sweep``) uses the same rule through ``requeue_stuck``.

Besides images: pending orders that wait for nothing are settled, and orders waiting for
their API client's submit that have had no news for ``ORDER_SUBMIT_IDLE_HOURS`` get one
``order.submit_overdue`` timeline entry, for staff to act on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import Max, QuerySet
from django.utils import timezone

from utilities import leases
from utilities.redis_clients import shared

from . import intake, services
from .models import Image, Order, OrderEvent

log = logging.getLogger(__name__)
#: The most images one sweep queues per step (the rest wait for the next round).
BATCH = 500


def requeue_stuck(
    images: QuerySet[Image],
    *,
    step: str,
    lease_key: Callable[[int], str],
    queue: Callable[[int], None],
) -> int:
    """Queue ``queue(image_id)`` for each of ``images`` that is stuck (see the module)."""
    window = float(settings.STUCK_AFTER_SECONDS)
    cutoff = timezone.now() - timedelta(seconds=window)
    client = shared()
    candidates = list(
        images.filter(updated_at__lt=cutoff)
        .exclude(order__status__in=Order.CLOSED)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    queued = 0
    for image_id in candidates:
        if client.exists(lease_key(image_id)):
            continue  # a worker is on it right now
        if not client.set(_marker(step, image_id), 1, nx=True, px=_window_ms()):
            continue  # queued again a moment ago: give that message its time
        queue(image_id)
        queued += 1
    if queued:
        log.warning("Sweep: %d image(s) stuck before %s queued again", queued, step)
    return queued


def requeue_orphans(
    *,
    step: str,
    claims: str,
    lease_key: Callable[[int], str],
    queue: Callable[[int], None],
) -> int:
    """Queue again the images whose worker died holding their lease (``utilities.leases``:
    the claim stayed, the lease ran out): within a lease period of the kill plus
    ``ORPHAN_SWEEP_SECONDS``, not after ``STUCK_AFTER_SECONDS`` unmoved. Each is also marked
    as re-queued, as ``requeue_stuck`` does, so that sweep adds no second message at once."""
    client = shared()
    found = [int(m) for m in leases.orphans(client, claims, lambda m: lease_key(int(m)))]
    for image_id in found:
        client.set(_marker(step, image_id), 1, px=_window_ms())
        queue(image_id)
    if found:
        log.warning(
            "Sweep: %d image(s) whose %s lease ran out unreleased (worker died, or Redis was "
            "away when it finished) queued again",
            len(found),
            step,
        )
    return len(found)


def _marker(step: str, image_id: int) -> str:
    """Set while an image's re-queued message has its time (``STUCK_AFTER_SECONDS``)."""
    return f"rkh:sweep:{step}:{image_id}"


def _window_ms() -> int:
    return max(1000, int(float(settings.STUCK_AFTER_SECONDS) * 1000))


def settle_idle_orders() -> int:
    """Pending orders with nothing left to wait for, moved on (a lost settle, a crash)."""
    cutoff = timezone.now() - timedelta(seconds=float(settings.STUCK_AFTER_SECONDS))
    ids = list(
        Order.objects.filter(status=Order.Status.PENDING, updated_at__lt=cutoff)
        .filter(images__status__in=[*Image.PAST_INGEST, Image.Status.FAILED])
        .exclude(images__status=Image.Status.UPLOADED)
        .values_list("pk", flat=True)
        .distinct()[:BATCH]
    )
    moved = 0
    for order_id in ids:
        intake.settle_order(order_id)
        moved += Order.objects.filter(pk=order_id).exclude(status=Order.Status.PENDING).exists()
    return moved


def flag_overdue_submits() -> int:
    """One ``order.submit_overdue`` entry for each order that waits for its client's submit
    and has had no news (no timeline entry) for ``ORDER_SUBMIT_IDLE_HOURS``."""
    cutoff = timezone.now() - timedelta(hours=float(settings.ORDER_SUBMIT_IDLE_HOURS))
    waiting = (
        Order.objects.filter(
            status__in=(Order.Status.DRAFT, Order.Status.PENDING),
            awaiting_submit=True,
            submitted_at__isnull=True,
        )
        .annotate(last_news=Max("timeline__created_at"))
        .filter(last_news__lt=cutoff)
    )
    flagged = 0
    for order in waiting[:BATCH]:
        last = OrderEvent.objects.filter(order=order).order_by("-seq").first()
        if last is not None and last.kind == OrderEvent.Kind.ORDER_SUBMIT_OVERDUE:
            continue  # told once; new files or a submit would be news
        count = Image.objects.filter(order=order).count()
        services.record_event(
            order,
            OrderEvent.Kind.ORDER_SUBMIT_OVERDUE,
            {
                "images": count,
                "idle_hours": float(settings.ORDER_SUBMIT_IDLE_HOURS),
                "reason": f"No file and no submit from the sending system for "
                f"{settings.ORDER_SUBMIT_IDLE_HOURS:g} hours ({count} file(s) so far). Submit "
                "the order if it is complete, or cancel it.",
            },
        )
        flagged += 1
    return flagged


def sweep() -> dict[str, int]:
    """The beat task's work (``orders.tasks.sweep_stuck_ingest``); counts of what it did."""
    return {
        "ingest_requeued": requeue_stuck(
            Image.objects.filter(status=Image.Status.UPLOADED),
            step="ingest",
            lease_key=intake.lease_key,
            queue=intake._queue_ingest,
        ),
        "orders_settled": settle_idle_orders(),
        "submits_overdue": flag_overdue_submits(),
    }
