"""The AI step as the order pipeline sees it (``orders.pipeline.AiStage``).

Bound in ``settings.PIPELINE_STAGES``: orders sits below ai_processing and cannot import
it, so the pipeline reaches the AI step through this class. Each method is mechanics
only; what happens next is decided in ``orders.pipeline``.
"""

from __future__ import annotations

from typing import Any

from orders.models import Image, Order
from orders.pipeline import HoldRule
from utilities.infrastructure import queue_after_commit

from . import hold, services, tasks

#: The review answers the admin's image actions give, by name.
REVIEW_ANSWERS = {
    "approve": services.approve_image,
    "redo": services.redo_image,
    "reject": services.reject_image,
}


class AiStage:
    """Queue AI work after commit; answer the approval rule; the print check's moves."""

    def start(self, image: Image) -> None:
        services.queue_image_after_commit(image.pk)

    def start_order(self, order: Order) -> None:
        order_id = order.pk
        queue_after_commit(
            lambda: tasks.process_order.delay(order_id), f"the AI step of order {order_id}"
        )

    def hold_rule(self, order: Order) -> HoldRule:
        return hold.rule_for(order)

    def send_short_prints_to_review(self, order: Order) -> int:
        return services.send_short_prints_to_review(order)

    def resume(self, image: Image, actor: Any) -> None:
        if image.status == Image.Status.FAILED:
            services.retry_failed_image(image, actor)
        else:
            services.requeue_image(image, actor)

    def answer_review(self, image: Image, actor: Any, answer: str) -> None:
        REVIEW_ANSWERS[answer](image, actor=actor)
