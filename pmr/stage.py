"""The PMR delivery as the order pipeline sees it (``orders.pipeline.DeliveryStage``).

Bound in ``settings.PIPELINE_STAGES``: orders sits below pmr and cannot import it. Both
methods write outbox rows in the caller's transaction (committed with the change that
needs them, or not at all); the drain is queued after the commit.
"""

from __future__ import annotations

from orders.models import Order

from . import outbox


class DeliveryStage:
    """Write the order's PMR work into the outbox."""

    def deliver(self, order: Order) -> None:
        outbox.deliver(order)

    def mirror_status(self, order: Order, previous: str, status: str) -> None:
        outbox.push_status(order, status, note=f"was {previous}")
