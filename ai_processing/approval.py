"""Approving what an order held for approval made: the people's answers and the auto-approval.

An order whose preset or event holds it (``hold.py``) waits in ``awaiting_approval`` after
its AI step, and nothing of its result is written for the PMR until every processed image
is approved. The answers, each one transaction under the lock order → image, checked
against the one access rule (``access.Action.APPROVE``: Managers and Admins, and the order's
own user when the hold allows it), each in the timeline and the audit log:

- ``approve_image``: one image is fine as it is;
- ``approve_order``: every image still waiting is fine (also the beat task's
  ``auto_approve_due``, once the waiting time passed with no objection: no actor);
- ``reject_image``: one image is turned down; it goes to Needs review
  (``ReviewReason.APPROVAL``) and, with ``preset``, straight back to the AI step with that
  preset (``services.redo_image``); otherwise a hand-edited file replaces it
  (``services.replace_with_hand_edit``), or it is redone later;
- ``reject_order``: every image still waiting is turned down the same way.

When the last image is approved the pipeline (``orders.pipeline.approved``) lets the order
go: back to ``processing``, ``ai_processed``, and the PMR outbox rows, once. See
docs/approval.md.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from orders import locking, pipeline
from orders import services as order_services
from orders.models import Image, Order, OrderEvent
from utilities import access
from utilities.errors import OrderError

from . import hold, services
from .models import ProcessingPreset

log = logging.getLogger(__name__)

S = Order.Status
Kind = OrderEvent.Kind
#: Longest reason kept for a turned-down image.
MAX_REASON = 500


def may_approve(user: Any, order: Order) -> bool:
    """May ``user`` answer this order's approval (the pages ask before showing buttons)."""
    return access.can(user, access.Action.APPROVE, order)


def _who(actor: Any) -> str:
    if actor is None:
        return "the system"
    return (getattr(actor, "get_full_name", lambda: "")() or str(actor)).strip()


def _lock(order: Order, actor: Any) -> Order:
    """Lock the order, check the actor may approve it and that it awaits approval."""
    locked = locking.lock_order(order.pk)
    if actor is not None and not access.can(actor, access.Action.APPROVE, locked):
        raise PermissionDenied(f"You may not approve order {locked.order_ref}.")
    if locked.status != S.AWAITING_APPROVAL:
        raise OrderError(
            f"Order {locked.order_ref} is not awaiting approval "
            f"(it is {locked.get_status_display().lower()})."
        )
    return locked


def _lock_image(order: Order, image: Image) -> Image:
    locked = Image.objects.select_for_update().get(pk=image.pk)
    if locked.order_id != order.pk:
        raise OrderError(f"Image {image.pk} is not an image of order {order.order_ref}.")
    if locked.status not in hold.DELIVERABLE:
        raise OrderError(
            f"{locked.original_filename} is not waiting for approval "
            f"(it is {locked.get_status_display().lower()})."
        )
    return locked


def _stamp(image: Image, actor: Any) -> None:
    """Mark the image approved with a model save: the audit log records who and when."""
    image.approved_at = timezone.now()
    image.approved_by = actor if getattr(actor, "is_authenticated", False) else None
    image.save(update_fields=["approved_at", "approved_by", "updated_at"])


def approve_image(image: Image, *, actor: Any) -> Image:
    """One image of an order awaiting approval is fine as it is.

    Approving an image already approved changes nothing. When it was the last one, the
    order goes on to the PMR. Raises ``PermissionDenied`` or ``OrderError`` (a sentence).
    """
    with transaction.atomic():
        order = _lock(image.order, actor)
        locked = _lock_image(order, image)
        if locked.approved_at is None:
            _stamp(locked, actor)
            order_services.record_event(order, Kind.IMAGE_APPROVED, {"image": locked.pk}, actor)
            pipeline.approval_answered(order)
    image.refresh_from_db()
    return image


def approve_order(order: Order, *, actor: Any, auto: bool = False) -> int:
    """Every image still waiting is approved; the order goes on to the PMR.

    Returns how many images this approved. ``auto``: the waiting time passed and nobody
    objected (the beat task; no actor). One ``order.approved`` timeline entry names who.
    """
    with transaction.atomic():
        locked = _lock(order, actor)
        images = locking.lock_images(locked, hold.unapproved(locked))
        for image in images:
            _stamp(image, actor)
        order_services.record_event(
            locked, Kind.ORDER_APPROVED, {"images": len(images), "auto": auto}, actor
        )
        pipeline.approval_answered(locked)
    order.refresh_from_db()
    return len(images)


def reject_image(
    image: Image,
    *,
    actor: Any,
    reason: str = "",
    preset: ProcessingPreset | None = None,
) -> Image:
    """One image is turned down: it waits in Needs review with who and why.

    With ``preset`` it goes straight back to the AI step with that preset
    (``services.redo_image``); otherwise the approver (or a manager in the review queue)
    redoes it or uploads a hand-edited file. The order leaves ``awaiting_approval`` for
    ``needs_review`` and is held again once the image is done (images already approved
    stay approved). Raises ``PermissionDenied`` or ``OrderError``.
    """
    reason = " ".join(str(reason or "").split())[:MAX_REASON]
    with transaction.atomic():
        order = _lock(image.order, actor)
        locked = _lock_image(order, image)
        _turn_down(locked, actor, reason)
        pipeline.approval_answered(order)
        if preset is not None:
            services.redo_image(locked, actor, preset=preset)
    image.refresh_from_db()
    return image


def reject_order(
    order: Order,
    *,
    actor: Any,
    reason: str = "",
    preset: ProcessingPreset | None = None,
) -> int:
    """Every image still waiting for approval is turned down (as ``reject_image``).

    Returns how many. Images already approved stay approved.
    """
    reason = " ".join(str(reason or "").split())[:MAX_REASON]
    with transaction.atomic():
        locked = _lock(order, actor)
        images = locking.lock_images(locked, hold.unapproved(locked))
        if not images:
            raise OrderError(f"Order {locked.order_ref} has no image waiting for approval.")
        for image in images:
            _turn_down(image, actor, reason)
        pipeline.approval_answered(locked)
        if preset is not None:
            for image in images:
                services.redo_image(image, actor, preset=preset)
    order.refresh_from_db()
    return len(images)


def _turn_down(image: Image, actor: Any, reason: str) -> None:
    text = f"Turned down at approval by {_who(actor)}"
    order_services.change_image_status(
        image,
        Image.Status.NEEDS_REVIEW,
        actor=actor,  # an approver may process the order (own orders for a User)
        reason=f"{text}: {reason}" if reason else f"{text}.",
        review_reason=Image.ReviewReason.APPROVAL,
    )


def auto_approve_due(now=None, limit: int = 100) -> int:
    """Approve the orders whose waiting time passed with nobody objecting (the beat task).

    An objection (an image turned down) moves the order out of ``awaiting_approval``, and
    it gets a new waiting time when it comes back. Each order is its own transaction: one
    that changed meanwhile is skipped. Returns how many orders were approved.
    """
    now = now or timezone.now()
    due = list(
        Order.objects.filter(status=S.AWAITING_APPROVAL, approval_due_at__lte=now)
        .order_by("approval_due_at")
        .values_list("pk", flat=True)[:limit]
    )
    approved = 0
    for pk in due:
        try:
            with transaction.atomic():
                order = locking.lock_order(pk)
                if order.approval_due_at is None or order.approval_due_at > now:
                    continue
                approve_order(order, actor=None, auto=True)
            approved += 1
        except (Order.DoesNotExist, OrderError):
            continue  # answered, cancelled or deleted meanwhile
    if approved:
        log.info("Approved %d order(s) whose waiting time passed", approved)
    return approved
