"""``{% ai_order_panel order %}``: the order page's AI part of "What happens next".

Why images wait for review (one sentence each) and who answers; failed images
with their reason and a Retry button; reprocessing with another preset. Buttons
only for people with the ``process`` right on the order (the access rule); the
reasons for everyone who sees the order. A few bounded queries.
"""

from __future__ import annotations

from django import template

from orders.models import Image
from utilities import access

from .. import explain, services
from ..models import ProcessingPreset

register = template.Library()

#: Images listed by name in each part; the rest are counted.
LISTED = 20


@register.inclusion_tag("ai_processing/order_panel.html", takes_context=True)
def ai_order_panel(context, order):
    request = context.get("request")
    user = getattr(request, "user", None)
    can_process = user is not None and access.can(user, access.Action.PROCESS, order)
    counts = services.image_counts(order)
    in_review, failed_count = counts.get(Image.Status.NEEDS_REVIEW, 0), counts.get("failed", 0)
    review = []
    if in_review:
        review = list(
            order.images.filter(status=Image.Status.NEEDS_REVIEW)
            .select_related("duplicate_of__order")
            .order_by("pk")[:LISTED]
        )
        for image in review:
            image.why = explain.review_reason(image)
    failed = []
    if failed_count:
        failed = list(order.images.filter(status=Image.Status.FAILED).order_by("pk")[:LISTED])
    retry_refused = services.retry_refused_because(order) if failed_count else ""
    reprocess_refused = services.reprocess_refused_because(order, counts)
    return {
        "order": order,
        "review": review,
        "review_more": max(0, in_review - len(review)),
        "in_review": in_review,
        "failed": failed,
        "failed_more": max(0, failed_count - len(failed)),
        "failed_count": failed_count,
        "can_process": can_process,
        "can_review": user is not None and access.can(user, access.Action.REVIEW, order),
        "retry_refused": retry_refused,
        "reprocess_refused": reprocess_refused,
        # Worth a word once the AI step has something to redo (or has handed it on).
        "show_reprocess": can_process
        and not order.is_closed
        and (
            not reprocess_refused
            or order.ai_processed
            or any(counts.get(status) for status in services.REDOABLE)
        ),
        "presets": ProcessingPreset.objects.filter(is_active=True).order_by("name")
        if can_process and not reprocess_refused
        else [],
        "csrf_token": context.get("csrf_token"),
        # Hold for approval: who answers, and the way to the before/after page.
        "awaiting_approval": order.status == order.Status.AWAITING_APPROVAL,
        "can_approve": user is not None and access.can(user, access.Action.APPROVE, order),
        "turned_down": any(i.review_reason == Image.ReviewReason.APPROVAL for i in review),
    }
