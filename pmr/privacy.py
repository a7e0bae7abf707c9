"""The personal data the PMR side keeps about an order, for ``orders.privacy``.

The outbox's order row carries the customer's name, e-mail and PMR customer id to the PMR
(``pmr.outbox``), and the PMR's answers and errors may repeat them; the delivery's reason
and error are the PMR's words; the cache keeps the address's PMR customer id for hours.
Erasing an order blanks those here and in their audit entries (a row still pending is then
sent with ``[erased]``, which is what the customer asked for). What the PMR itself stores is
the PMR's to erase: the studio asks there.
"""

from __future__ import annotations

from typing import Any

from events import lookups
from orders.models import Order
from utilities.audit import Scrubber

from .models import OrderDelivery, OutboxEntry

#: Payload keys that name the customer (``pmr.outbox``'s order row).
CUSTOMER_KEYS = ("customer_name", "customer_email", "customer_id", "notes", "metadata")
#: Fields of an outbox row whose audited values go entirely: they are copies of the above.
AUDITED_FIELDS = ("payload", "response", "last_error")


def erase(order: Order, scrubber: Scrubber) -> None:
    """Blank the customer in the order's outbox rows and delivery, and in their audit log;
    forget the cached PMR answer for their address."""
    lookups.forget_customer(order.customer_email)
    rows = list(OutboxEntry.objects.filter(order_id=order.pk))
    for row in rows:
        new = {
            "payload": scrubber.json(row.payload, CUSTOMER_KEYS),
            "response": scrubber.json(row.response, CUSTOMER_KEYS),
            "last_error": scrubber.json(row.last_error, CUSTOMER_KEYS),
        }
        if any(getattr(row, name) != value for name, value in new.items()):
            OutboxEntry.objects.filter(pk=row.pk).update(**new)
    scrubber.audit(OutboxEntry, [row.pk for row in rows], fields=AUDITED_FIELDS)
    delivery = OrderDelivery.objects.filter(order_id=order.pk).first()
    if delivery is not None:
        OrderDelivery.objects.filter(pk=delivery.pk).update(
            pmr_status_reason=scrubber.text(delivery.pmr_status_reason),
            last_error=scrubber.text(delivery.last_error),
        )
        scrubber.audit(OrderDelivery, [delivery.pk])


def export(order: Order) -> dict[str, Any] | None:
    """Where the order stands in the PMR, for the customer's export."""
    delivery = OrderDelivery.objects.filter(order_id=order.pk).first()
    if delivery is None:
        return None
    return {
        "pmr_order_id": delivery.pmr_order_id,
        "pmr_status": delivery.pmr_status,
        "pmr_changed_at": delivery.pmr_changed_at.isoformat() if delivery.pmr_changed_at else None,
    }
