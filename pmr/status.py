"""The PMR's side of an order's status: from its webhooks and from the scheduled pull.

The PMR can move an order on after delivery (``delivered``, ``rejected``,
``on_hold``). Both paths end in ``apply_pmr_status``, which keeps the newest
change only (by the PMR's ``changed_at`` / ``updated_at``), so a late webhook
or an overlapping pull never turns a status back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from orders import services as order_services
from orders.models import Order
from pmr.clients import PMRError
from utilities.infrastructure import queue_after_commit

from . import connection, tasks
from .models import OrderDelivery, SyncCursor, WebhookDelivery
from .timeline import STATUS_EVENT

log = logging.getLogger(__name__)
KNOWN = frozenset(OrderDelivery.PmrStatus.values) - {""}
#: The pull starts a little before the last one ended: changes stamped at that edge count twice
#: (harmless: applying the same status twice changes nothing), never zero times.
PULL_OVERLAP = timedelta(seconds=5)


def apply_pmr_status(
    order_ref: str, status: str, reason: str | None, changed_at: datetime | None, *, source: str
) -> str:
    """Record the PMR's status of an order; returns what happened (for logs and tests)."""
    if status not in KNOWN:
        return f"ignored: unknown status {status!r}"
    changed_at = changed_at or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(order_ref=order_ref).first()
        if order is None:
            return "ignored: unknown order"
        delivery, _ = OrderDelivery.objects.select_for_update().get_or_create(order_id=order.pk)
        if delivery.pmr_changed_at and changed_at <= delivery.pmr_changed_at:
            return "ignored: older than what we have"
        if delivery.pmr_status == status and (delivery.pmr_status_reason or "") == (reason or ""):
            delivery.pmr_changed_at = changed_at
            delivery.save(update_fields=["pmr_changed_at", "updated_at"])
            return "unchanged"
        previous = delivery.pmr_status
        delivery.pmr_status = status
        delivery.pmr_status_reason = reason or ""
        delivery.pmr_changed_at = changed_at
        delivery.save()
        order_services.record_event(
            order,
            STATUS_EVENT,
            {"from": previous, "to": status, "reason": reason or "", "source": source},
        )
    return f"applied: {status}"


ACCEPTED = "accepted"
REPEATED = "already processed"
UNKNOWN_ORDER = "unknown order"


def accept_webhook(delivery_id: str, event: str, body: dict) -> str:
    """Store a verified webhook delivery and queue its work; what became of it.

    ``ACCEPTED`` (stored, applied by a task after commit), ``REPEATED`` (this delivery id was
    stored before, or is being stored by a concurrent repeat: nothing changes), ``ignored: …``
    for an event we do not handle, ``UNKNOWN_ORDER`` (nothing stored, so a later delivery for
    an order made meanwhile is not mistaken for a repeat).
    """
    if WebhookDelivery.objects.filter(delivery_id=delivery_id).exists():
        return REPEATED
    if event != "order.status_changed":
        return f"ignored: event {event[:50]!r}"
    if not Order.objects.filter(order_ref=body.get("order_ref")).exists():
        return UNKNOWN_ORDER
    try:
        with transaction.atomic():
            stored = WebhookDelivery.objects.create(
                delivery_id=delivery_id, event=event, payload=body
            )
            # A broker that is away is logged: the scheduled pull applies the PMR's changes too.
            queue_after_commit(lambda: tasks.apply_webhook.delay(stored.pk), "a PMR webhook")
    except IntegrityError:  # the same delivery, twice at once: the other one stored it
        return REPEATED
    return ACCEPTED


def changed_at_too_far_ahead(body: dict, tolerance_seconds: int) -> bool:
    """True when a webhook's ``changed_at`` lies further ahead than the clocks can disagree.

    Only the newest change is applied (by ``changed_at``), so one delivery dated far in the
    future would make every later genuine update look older and be ignored until that date.
    """
    changed_at = parse_when(body.get("changed_at"))
    return changed_at is not None and changed_at > timezone.now() + timedelta(
        seconds=tolerance_seconds
    )


def apply_webhook(delivery_pk: int) -> str:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_pk)
        if delivery.processed_at is not None:
            return delivery.outcome
        body = delivery.payload
        outcome = apply_pmr_status(
            str(body.get("order_ref", "")),
            str(body.get("status", "")),
            body.get("status_reason"),
            parse_when(body.get("changed_at")),
            source="webhook",
        )
        delivery.processed_at = timezone.now()
        delivery.outcome = outcome[:200]
        delivery.save(update_fields=["processed_at", "outcome"])
    return outcome


def pull_updates() -> int:
    """Apply every order the PMR changed since the last pull; returns how many were applied.

    Skipped (0) while the PMR's circuit is open: the drains' failures already say it is
    down, and the next pull after it recovers starts from the same cursor.
    """
    breaker = connection.breaker()
    if not breaker.allow(connection.BREAKER_NAME):
        log.info("PMR pull skipped: the circuit is open")
        return 0
    breaker.release(connection.BREAKER_NAME)  # a probe slot taken by allow(): give it back
    cursor, _ = SyncCursor.objects.get_or_create(
        name="orders", defaults={"value": timezone.now() - timedelta(days=1)}
    )
    started = timezone.now()
    newest = cursor.value
    applied = 0
    try:
        for remote in connection.client().iter_orders_updated_since(cursor.value - PULL_OVERLAP):
            updated = parse_when(remote.get("updated_at")) or started
            outcome = apply_pmr_status(
                str(remote.get("order_ref", "")),
                str(remote.get("status", "")),
                remote.get("status_reason"),
                updated,
                source="pull",
            )
            applied += outcome.startswith("applied")
            newest = max(newest, updated)
    except PMRError as exc:
        # What was applied stays; the cursor keeps the last change seen, so nothing is skipped.
        log.warning("PMR pull stopped: %s", exc)
        if exc.retryable:
            breaker.record_failure(connection.BREAKER_NAME)
        SyncCursor.objects.filter(pk=cursor.pk).update(value=newest)
        return applied
    # Next time: from the newest change seen, or a minute before this pull (clock skew).
    value = min(max(newest, started - timedelta(minutes=1)), started)
    SyncCursor.objects.filter(pk=cursor.pk).update(value=value)
    return applied


def parse_when(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed
