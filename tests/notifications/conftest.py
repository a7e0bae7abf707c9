"""Fixtures of the notification tests: orders moved through the real services, and helpers
that read what was made."""

from __future__ import annotations

from notifications import compose, services
from notifications.models import Notification
from orders import services as order_services
from orders.models import Order, OrderEvent

COMPLETED, NEEDS_REVIEW = Order.Status.COMPLETED, Order.Status.NEEDS_REVIEW


def move(order: Order, *statuses: str) -> OrderEvent:
    """Move the order through ``statuses`` as the system does; the last timeline entry."""
    for status in statuses:
        order_services.change_order_status(order, status, reason="test")
    return OrderEvent.objects.filter(order=order).order_by("-seq").first()


def complete(order: Order) -> OrderEvent:
    return move(order, "pending", "processing", COMPLETED)


def notify_for(entry: OrderEvent) -> list[Notification]:
    """What the task does with a timeline entry (without the queue)."""
    return services.notify(compose.for_order_event(entry))


def recipients(entry: OrderEvent) -> set[str]:
    return set(
        Notification.objects.filter(source_key=f"order-event:{entry.pk}").values_list(
            "user__username", flat=True
        )
    )
