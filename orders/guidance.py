"""What the order page tells people about where an order stands and what happens next.

Plain sentences from the order's status and counters (no queries): the page's
"What happens next" box shows them to every role, so a person never has to guess
whether the order waits for them, for a manager, or for nothing at all.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.formats import date_format

from .models import Order

S = Order.Status
#: How dates read in sentences: "4 Dec 2026, 09:21".
DATE_FORMAT = "j M Y, H:i"


def when(moment) -> str:
    """A moment as people read it ("4 Dec 2026, 09:21", local time)."""
    return date_format(timezone.localtime(moment), DATE_FORMAT)


def _images(n: int) -> str:
    return f"{n} image{'s' if n != 1 else ''}"


def next_step(order: Order) -> str:
    """One or two sentences: where the order stands and who acts next."""
    total = order.total_images
    if order.status == S.DRAFT:
        return (
            "No images yet. Add the order's photos: each file is checked as it arrives, and "
            "AI processing starts by itself once they are in."
        )
    if order.status == S.PENDING:
        return (
            f"The images are being checked: {order.ingested_images} of {_images(total)} "
            "done. AI processing starts on each image as soon as it passes."
        )
    if order.status == S.PROCESSING and not order.ai_processed:
        return (
            f"AI processing is under way: {order.processed_images} of {_images(total)} done. "
            "When every image is done, the order is delivered to the PMR by itself."
        )
    if order.status == S.PROCESSING:
        return (
            "AI processing is done and the images are being delivered to the PMR; the order "
            "completes by itself when the PMR has them all."
        )
    if order.status == S.NEEDS_REVIEW:
        return (
            f"{_images(order.review_images)} need{'s' if order.review_images == 1 else ''} "
            "a person's decision before the order can go on (see below)."
        )
    if order.status == S.AWAITING_APPROVAL:
        who = (
            "A manager, or the order's own user,"
            if order.approval_owner_may_approve
            else "A manager"
        )
        whose = {"event": " (its event asks for it)", "preset": " (its preset asks for it)"}
        text = (
            "AI processing is done. The results wait for approval before anything goes to "
            f"the PMR{whose.get(order.approval_rule, '')}. {who} compares each image before "
            "and after and approves it, or turns it down to be redone."
        )
        if order.approval_due_at:
            text += (
                f" If nobody objects, it is approved by itself on {when(order.approval_due_at)}."
            )
        return text
    if order.status == S.FAILED:
        return (
            "The order was stopped as failed. Retry its failed images or reprocess it to set "
            "it going again, or cancel it."
        )
    if order.status == S.COMPLETED:
        done = f" on {when(order.completed_at)}" if order.completed_at else ""
        return f"Completed{done}: delivered to the PMR. Nothing more happens to it."
    return "Cancelled. Nothing more happens to it."
