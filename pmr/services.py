"""Manual overrides and requests of the PMR step: every such write goes through here.

For when automation cannot work: retry or skip an outbox row, queue an order's
upload again, mark an order as uploaded by hand. Each checks the actor through
the one access rule and leaves a timeline entry (the admin's audit log records
the row changes too).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from orders import locking
from orders import services as order_services
from orders.models import Order
from utilities import access
from utilities.errors import OrderError

from . import drain, outbox, variants
from .models import OrderDelivery, OutboxEntry
from .timeline import MANUAL_EVENT, SKIPPED_EVENT

State = OutboxEntry.State


def _require(actor: Any, order: Order, action=access.Action.REVIEW) -> None:
    if actor is not None and not access.can(actor, action, order):
        raise PermissionDenied(f"You may not change the PMR delivery of order {order.order_ref}.")


def retry_entry(entry: OutboxEntry, *, actor: Any) -> OutboxEntry:
    """Send a failed (or waiting) row again now."""
    with transaction.atomic():
        # The order first, as everywhere (orders.locking): no lock-order deadlock.
        locking.lock_order(entry.order_id, fields=["pk"])
        locked = OutboxEntry.objects.select_for_update().select_related("order").get(pk=entry.pk)
        _require(actor, locked.order)
        if locked.state in OutboxEntry.FINAL:
            raise OrderError(f"This PMR write is {locked.state}; there is nothing to retry.")
        locked.state = State.PENDING
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["state", "next_attempt_at", "updated_at"])
        outbox._drain_after_commit(locked.order_id)
    return locked


def skip_entry(entry: OutboxEntry, *, actor: Any, reason: str = "") -> OutboxEntry:
    """Decide a row will not be sent (the rows after it move on)."""
    with transaction.atomic():
        # The order first, as everywhere (orders.locking): no lock-order deadlock.
        locking.lock_order(entry.order_id, fields=["pk"])
        locked = OutboxEntry.objects.select_for_update().select_related("order").get(pk=entry.pk)
        _require(actor, locked.order)
        if locked.state in OutboxEntry.FINAL:
            raise OrderError(f"This PMR write is already {locked.state}.")
        locked.state = State.SKIPPED
        locked.save(update_fields=["state", "updated_at"])
        outbox.forget_sent_personal_data(locked.order_id)
        order_services.record_event(
            locked.order,
            SKIPPED_EVENT,
            {
                "entry": locked.pk,
                "kind": locked.kind,
                "image": locked.image_id,
                "file": variants.file_facts(locked.payload)
                if locked.kind == OutboxEntry.Kind.IMAGE_PUT
                else None,
                "reason": reason[:300],
            },
            actor,
        )
        if locked.kind == OutboxEntry.Kind.IMAGE_PUT and outbox.known_to_pmr(locked.order):
            # A person chose to deliver without this file; without the image's original the
            # PMR is told to expect one image fewer, or it would refuse to complete the order
            # (409 images_missing). (A new count when it did not change is harmless.)
            outbox.put_order(locked.order)
        if locked.kind == OutboxEntry.Kind.IMAGE_PUT and locked.image_id:
            # Its other files may all be in the PMR already: the image is delivered now.
            drain.mark_synced({locked.image_id})
        outbox._drain_after_commit(locked.order_id)
    return locked


def queue_upload(order: Order, *, actor: Any) -> int:
    """Someone asks for the order's PMR upload: failed rows go again; a finished AI step
    with no delivery yet gets one. Returns how many rows will be sent."""
    with transaction.atomic():
        locked = locking.lock_order(order.pk)
        _require(actor, locked, access.Action.PROCESS)
        if locked.status == Order.Status.CANCELLED:
            raise OrderError(f"Order {locked.order_ref} is cancelled; nothing goes to the PMR.")
        rows = OutboxEntry.objects.filter(order_id=locked.pk).exclude(state__in=OutboxEntry.FINAL)
        rows.filter(state=State.FAILED).update(state=State.PENDING, next_attempt_at=timezone.now())
        count = rows.count()
        if count == 0 and locked.ai_processed and not locked.pmr_synced:
            outbox.deliver(locked)
            count = rows.count()
        if count == 0:
            raise OrderError(
                f"Order {locked.order_ref} has nothing waiting for the PMR"
                + (" (its AI step is not done yet)." if not locked.ai_processed else ".")
            )
        outbox._drain_after_commit(locked.pk)
    return count


def mark_uploaded_by_hand(order: Order, *, actor: Any, note: str = "") -> Order:
    """Staff delivered the order to the PMR themselves: open rows are skipped, the order
    completes, and who did it is recorded (timeline, delivery, audit log)."""
    with transaction.atomic():
        locked = locking.lock_order(order.pk)
        _require(actor, locked)
        if locked.status == Order.Status.CANCELLED:
            raise OrderError(f"Order {locked.order_ref} is cancelled.")
        skipped = (
            OutboxEntry.objects.filter(order_id=locked.pk)
            .exclude(state__in=OutboxEntry.FINAL)
            .update(state=State.SKIPPED, updated_at=timezone.now())
        )
        outbox.forget_sent_personal_data(locked.pk)
        delivery, _ = OrderDelivery.objects.get_or_create(order_id=locked.pk)
        delivery.uploaded_by_hand = True
        delivery.uploaded_by_hand_by = actor if getattr(actor, "pk", None) else None
        delivery.waiting_since = None
        delivery.save()
        Order.objects.filter(pk=locked.pk).update(pmr_synced=True)
        order_services.record_event(
            locked, MANUAL_EVENT, {"skipped": skipped, "note": note[:300]}, actor
        )
        if Order.can_move(locked.status, Order.Status.COMPLETED):
            order_services.change_order_status(
                locked, Order.Status.COMPLETED, actor=actor, reason="uploaded to the PMR by hand"
            )
    locked.refresh_from_db()
    return locked


def delivery_summary(order: Order) -> dict[str, Any]:
    """Where the order's PMR delivery stands, for the order page and the API (two queries).

    ``images_*`` count images (by their original: ``outbox.PRIMARY_UPLOAD``), ``files_*``
    every file sent (originals, edited files, prints) and ``files_done_by_variant`` the
    confirmed files of each variant (a row from before variants counts as an original)."""
    image_rows = Q(kind=OutboxEntry.Kind.IMAGE_PUT)
    sent = ~Q(state=State.SKIPPED)
    done = Q(state=State.DONE)
    by_variant = {
        variant: Count("id", filter=image_rows & done & Q(payload__variant=variant))
        for variant in (variants.EDITED, variants.PRINT)
    }
    counts = OutboxEntry.objects.filter(order_id=order.pk).aggregate(
        **{state: Count("id", filter=Q(state=state)) for state in State.values},
        images_total=Count("id", filter=outbox.PRIMARY_UPLOAD & sent),
        images_done=Count("id", filter=outbox.PRIMARY_UPLOAD & done),
        files_total=Count("id", filter=image_rows & sent),
        files_done=Count("id", filter=image_rows & done),
        **by_variant,
    )
    delivery = OrderDelivery.objects.filter(order_id=order.pk).first()
    return {
        "rows": {state: counts[state] for state in State.values},
        "images_total": counts["images_total"],
        "images_done": counts["images_done"],
        "files_total": counts["files_total"],
        "files_done": counts["files_done"],
        "files_done_by_variant": {
            variants.ORIGINAL: counts["images_done"],
            **{variant: counts[variant] for variant in by_variant},
        },
        "waiting_for_pmr": bool(delivery and delivery.waiting_since),
        "waiting_since": delivery.waiting_since if delivery else None,
        "last_error": delivery.last_error if delivery else "",
        "pmr_status": delivery.pmr_status if delivery else "",
        "pmr_status_reason": delivery.pmr_status_reason if delivery else "",
        "uploaded_by_hand": bool(delivery and delivery.uploaded_by_hand),
        "synced": order.pmr_synced,
    }
