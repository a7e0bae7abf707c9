"""The journey of an order and its images, read top to bottom: every "what happens next".

::

    upload ─► ingest ─► AI (edit, caption; quality gate) ─► [held for approval] ─► PMR ─► completed
              │ refused → rejected          │ failed → the order stops for a person (short)
              │ all failed → order failed   │ to review → needs_review, until people answer
              cancelled at any open step → the PMR is told, if it ever heard of the order

The services do the work of each step (``orders.intake`` ingests, ``ai_processing`` runs
the providers, ``pmr`` drains the outbox) and, when a step ends, call the function below
that names the moment (``image_ingested``, ``ai_settled``, ``delivered``...). Each function
here decides the next step and makes the transition, inside the caller's transaction and
under its order lock (``orders.locking``). The later stages are reached through two small
protocols (``AiStage``, ``DeliveryStage``), bound in settings (``PIPELINE_STAGES``) by
dotted path, because orders sits below ``ai_processing`` and ``pmr`` in the layers and may
not import them. Signals are left for extension points only (the live doorbell, audit).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models import Count
from django.dispatch import receiver
from django.utils import timezone
from django.utils.module_loading import import_string

from utilities import access
from utilities.errors import OrderError

from . import locking, services
from .models import Image, Order, Upload

S = Image.Status
OS = Order.Status

#: Image statuses that keep an order from being done with AI (uploaded: still in ingest).
AI_NOT_DONE = frozenset({S.UPLOADED, S.INGESTED, S.ANALYZED})
#: Order statuses in which the end of an image's AI step may move the order on.
SETTLING = frozenset({OS.PROCESSING, OS.NEEDS_REVIEW, OS.AWAITING_APPROVAL})
#: Order statuses whose images go to the AI step as soon as they pass ingest.
TAKES_AI_WORK = frozenset({OS.PENDING, OS.PROCESSING, OS.NEEDS_REVIEW})
#: Image statuses that are delivered, hence approved first when the order is held.
DELIVERABLE = frozenset({S.PROCESSED})
#: The timeline entry of an order whose AI step is done and handed to the PMR delivery.
AI_COMPLETED = "order.ai_completed"


# --- the later stages -------------------------------------------------------------------


@dataclass(frozen=True)
class HoldRule:
    """Whether an order waits for approval after its AI step, and on what terms
    (``ai_processing.hold.rule_for`` reads it from the event and the preset)."""

    hold: bool
    owner_may_approve: bool = False
    auto_approve_hours: int | None = None
    #: Whose setting decided: "event", "preset", or "" (neither holds).
    source: str = ""

    def sentence(self) -> str:
        """Why the order waits, in words (the guidance box and the status change)."""
        if not self.hold:
            return ""
        whose = "its event" if self.source == "event" else "its processing preset"
        return f"held for approval by {whose}"


class AiStage(Protocol):
    """What the pipeline asks of the AI step (``ai_processing.stage``)."""

    def start(self, image: Image) -> None:
        """Queue the image's AI work once the transaction commits."""

    def start_order(self, order: Order) -> None:
        """Queue the AI work of every image of the order waiting for it, after commit."""

    def hold_rule(self, order: Order) -> HoldRule:
        """The approval rule of the order (its event's, else its preset's)."""

    def send_short_prints_to_review(self, order: Order) -> int:
        """Move processed images too small for the prints ordered to review; how many."""

    def resume(self, image: Image, actor: Any) -> None:
        """Staff unstick an image: queue its AI step again (waiting for it: a lost message,
        a killed worker) or retry it (failed in it). ``OrderError`` when it cannot."""

    def answer_review(self, image: Image, actor: Any, answer: str) -> None:
        """A reviewer's answer for an image in review: "approve", "redo" or "reject"."""


class DeliveryStage(Protocol):
    """What the pipeline asks of the PMR delivery (``pmr.stage``)."""

    def deliver(self, order: Order) -> None:
        """Write the order's delivery (metadata, files, finish) into the PMR outbox."""

    def mirror_status(self, order: Order, previous: str, status: str) -> None:
        """Tell the PMR of a status change it knows of (an outbox row, same transaction)."""


@dataclass(frozen=True)
class Stages:
    ai: AiStage
    delivery: DeliveryStage


@functools.cache
def stages() -> Stages:
    """The stages named in ``settings.PIPELINE_STAGES``, imported once (tests override it)."""
    named = settings.PIPELINE_STAGES
    return Stages(ai=import_string(named["ai"])(), delivery=import_string(named["delivery"])())


@receiver(setting_changed)
def _forget_stages(setting: str, **kwargs: Any) -> None:
    if setting == "PIPELINE_STAGES":
        stages.cache_clear()


# --- every status change ----------------------------------------------------------------


def order_moved(order: Order, previous: str, status: str) -> None:
    """Called by ``services.change_order_status`` for every move, in its transaction.

    The PMR hears of the statuses it knows (outbox row, same transaction: committed with
    the move or not at all); an order entering ``processing`` gets its AI work queued
    after the commit (cancelled, completed and the rest start nothing).
    """
    stages().delivery.mirror_status(order, previous, status)
    if status == OS.PROCESSING:
        stages().ai.start_order(order)


# --- ingest -----------------------------------------------------------------------------


def image_ingested(image: Image, order: Order) -> None:
    """An image passed ingest; caller holds the order lock.

    Its AI work starts now, while the rest of the order is still being ingested (or, for a
    late file or a retried one, joins in; an order in review settles again when it is
    done), unless it was held as a near-duplicate (``needs_review``: a person decides).
    Then the order may be done with ingest.
    """
    if image.status == S.INGESTED and order.status in TAKES_AI_WORK:
        stages().ai.start(image)
    ingest_may_be_done(order)


def image_left_ingest(image: Image, order: Order) -> None:
    """An image left ingest without passing (refused or failed); caller holds the order lock.

    A pending order may be done with ingest now; an order already in the AI step (a late
    file, a retried one) may wait for nothing else any more, or must stop short (the image
    failed).
    """
    ingest_may_be_done(order)
    if order.status in (OS.PROCESSING, OS.NEEDS_REVIEW):
        ai_settled(order, new_failure=image.status == S.FAILED)


def files_still_coming(order: Order) -> bool:
    """Whether the order waits for more files from the system that sends them.

    An order made through the REST API (``awaiting_submit``) waits until its client says
    "this is all" (``intake.submit_order``) or as many files as it announced
    (``expected_images``; refused files count, they arrived) are in, however long the
    client takes between two files. Orders of the pages are held by their open uploads.
    """
    if not order.awaiting_submit or order.submitted_at is not None:
        return False
    if order.expected_images is not None:
        return Image.objects.filter(order_id=order.pk).count() < order.expected_images
    return True


def ingest_may_be_done(order: Order) -> None:
    """Move a pending order to processing once none of its images waits for ingest.

    Called after an image changed (the caller holds the order's row lock, so of several
    ingests finishing together exactly one sees the last image done), after an abandoned
    upload was stopped and when the API client submits the order. Only if at least one
    image was accepted: an order of refused files stays pending for the user to fix; one
    whose every image failed (or was refused) stops as ``failed``, naming them, for staff
    to retry.
    """
    if order.status != OS.PENDING:
        return
    images = Image.objects.filter(order_id=order.pk)
    if images.filter(status=S.UPLOADED).exists():
        return
    # Files still arriving (a browser batch uploads a few at a time) belong to the same
    # order: wait for them. Abandoned uploads are stopped by
    # ``uploads.abort_stale_uploads``, which then settles the order.
    if Upload.objects.filter(order_id=order.pk, status=Upload.Status.OPEN).exists():
        return
    if files_still_coming(order):
        return
    if not images.filter(status__in=Image.PAST_INGEST).exists():
        failed = list(images.filter(status=S.FAILED).order_by("pk"))
        if failed:
            services.stop_short(order, OS.FAILED, failed=failed)
        return
    services.change_order_status(order, OS.PROCESSING, reason="all images ingested")


# --- after the AI step ------------------------------------------------------------------


def ai_settled(order: Order, *, new_failure: bool = False) -> None:
    """An image of the order is done with AI, or a person answered: move the order on.

    Caller holds the order's lock. In order, once no image waits for ingest or AI:

    1. a failed image: the order stops short in ``needs_review`` with a reason naming the
       failed images and an ``order.stopped_short`` entry (again on each ``new_failure``),
       and waits for a person: retry them, or deliver without them
       (``deliver_without_failed``). Never delivered short by itself.
    2. an image to review: ``needs_review`` until every review is answered.
    3. the print check (the last quality gate): processed images too small for the
       prints ordered go to review (and the order with them).
    4. every review answered: back to ``processing``.
    5. held for approval (the event's or the preset's rule) with images unapproved:
       ``awaiting_approval``, nothing in the PMR outbox; once all are approved, back to
       ``processing``.
    6. else: ``ai_processed``, one ``order.ai_completed`` entry, and the delivery is
       written into the PMR outbox, once. The PMR step completes the order (``delivered``).

    Rejected images (a refused file, or one a person turned down) hold nothing back.
    """
    order.refresh_from_db()
    if order.status not in SETTLING:
        return
    images = Image.objects.filter(order_id=order.pk)
    if images.filter(status__in=AI_NOT_DONE).exists():
        return
    review = images.filter(status=S.NEEDS_REVIEW).count()
    failed = list(images.filter(status=S.FAILED).order_by("pk"))
    if failed:
        if new_failure or order.status != OS.NEEDS_REVIEW:
            services.stop_short(order, OS.NEEDS_REVIEW, failed=failed, review=review)
        return
    if review:
        if order.status in (OS.PROCESSING, OS.AWAITING_APPROVAL):
            noun = "image needs" if review == 1 else "images need"
            services.change_order_status(order, OS.NEEDS_REVIEW, reason=f"{review} {noun} review")
        return
    if not order.ai_processed and _short_prints_to_review(order):
        return
    if order.status == OS.NEEDS_REVIEW:
        services.change_order_status(order, OS.PROCESSING, reason="every review answered")
    if order.ai_processed:
        return
    if _held_for_approval(order):
        return
    _hand_to_delivery(order)


def deliver_without_failed(order: Order, actor: Any, *, note: str = "") -> Order:
    """A person decides the order goes to the PMR without its failed images.

    Each failed image is left out (failed → rejected, "left out of the delivery by …"), one
    ``order.partial_delivery`` timeline entry names them with who decided (the audit log
    keeps the image changes), and the order settles: with nothing else waiting it is
    delivered, and the PMR is told to expect only the images delivered. Only reviewers of
    the order (managers and admins) may decide this. Raises ``PermissionDenied``, and
    ``OrderError`` when no image failed, the order is closed, or images are still being
    worked on (wait for them: they may fail too, or succeed).
    """
    with transaction.atomic():
        locked = locking.lock_order(order.pk)
        if actor is None or not access.can(actor, access.Action.REVIEW, locked):
            raise PermissionDenied(f"You may not decide the delivery of order {locked.order_ref}.")
        if locked.is_closed:
            raise OrderError(f"Order {locked.order_ref} is {locked.status}; nothing to deliver.")
        images = Image.objects.filter(order_id=locked.pk)
        failed = list(images.filter(status=S.FAILED).order_by("pk"))
        if not failed:
            raise OrderError(f"Order {locked.order_ref} has no failed images to leave out.")
        if images.filter(status__in=AI_NOT_DONE).exists():
            raise OrderError(
                f"Order {locked.order_ref} still has images in the works; "
                "decide once they are done."
            )
        if not images.exclude(status__in=(S.FAILED, S.REJECTED)).exists():
            raise OrderError(
                f"Every image of order {locked.order_ref} failed or was refused; nothing would "
                "be delivered. Retry them, or cancel the order."
            )
        who = getattr(actor, "get_full_name", lambda: "")() or getattr(actor, "username", "")
        for image in failed:
            services.change_image_status(
                image,
                S.REJECTED,
                actor=actor,
                reason=f"Left out of the delivery by {who}: {image.status_reason}"[:2000],
            )
        services.record_event(
            locked,
            services.Kind.ORDER_PARTIAL_DELIVERY,
            {
                "left_out": [{"image": i.pk, "filename": i.original_filename} for i in failed],
                "note": note[:500],
            },
            actor,
        )
        ai_settled(locked)
    order.refresh_from_db()
    return order


def _short_prints_to_review(order: Order) -> bool:
    moved = stages().ai.send_short_prints_to_review(order)
    if moved and order.status == OS.PROCESSING:
        services.change_order_status(
            order,
            OS.NEEDS_REVIEW,
            reason=f"{moved} image is too small for its print size"
            if moved == 1
            else f"{moved} images are too small for their print sizes",
        )
    return bool(moved)


def unapproved(order: Order):
    """The order's images that would be delivered and nobody approved yet."""
    return Image.objects.filter(order_id=order.pk, status__in=DELIVERABLE, approved_at__isnull=True)


def _held_for_approval(order: Order) -> bool:
    """The hold step: True when the order must wait (it is, or now is, ``awaiting_approval``
    with the rule's facts stored on it); False when it may go on to the PMR."""
    waiting = order.status == OS.AWAITING_APPROVAL
    if not waiting:
        rule = stages().ai.hold_rule(order)
        if not rule.hold:
            return False
    if unapproved(order).exists():
        if not waiting:
            _await_approval(order, rule)
        return True
    if waiting:
        services.change_order_status(order, OS.PROCESSING, reason="every image approved")
    return False


def _await_approval(order: Order, rule: HoldRule) -> None:
    """The rule is kept on the order, so the access rule and the beat task read one row."""
    due = (
        timezone.now() + timedelta(hours=rule.auto_approve_hours)
        if rule.auto_approve_hours
        else None
    )
    Order.objects.filter(pk=order.pk).update(
        approval_owner_may_approve=rule.owner_may_approve,
        approval_due_at=due,
        approval_rule=rule.source,
    )
    order.approval_owner_may_approve = rule.owner_may_approve
    order.approval_due_at = due
    order.approval_rule = rule.source
    services.change_order_status(order, OS.AWAITING_APPROVAL, reason=rule.sentence())


def _hand_to_delivery(order: Order) -> None:
    Order.objects.filter(pk=order.pk).update(ai_processed=True)
    order.ai_processed = True
    images = Image.objects.filter(order_id=order.pk)
    counts = dict(images.values("status").annotate(n=Count("id")).values_list("status", "n"))
    order.refresh_from_db(fields=["ai_cost"])
    services.record_event(order, AI_COMPLETED, {"images": counts, "ai_cost": str(order.ai_cost)})
    stages().delivery.deliver(order)


def approval_answered(order: Order) -> None:
    """People answered an order awaiting approval (or its waiting time passed): all approved,
    it goes on to the PMR; an image turned down sends it to review (``ai_settled``)."""
    ai_settled(order)


# --- after the PMR ----------------------------------------------------------------------


def delivered(order: Order) -> None:
    """Every write of the order's delivery is done in the PMR: the order completes (the
    "completed" status then goes to the PMR too, after the delivery's rows). Caller holds
    the order's lock; an order a person closed meanwhile stays as it is."""
    if Order.can_move(order.status, OS.COMPLETED):
        services.change_order_status(order, OS.COMPLETED, reason="delivered to the PMR")
