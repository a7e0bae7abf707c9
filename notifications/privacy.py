"""The personal data notifications keep about an order, for ``orders.privacy``.

Staff notifications name the customer ("Anna Berg · event …"), and the e-mail sent to the
customer on delivery holds their address, their name and the text they got. Erasing an
order blanks those, here and in the audit log (the e-mail row is audited); the export hands
the customer the e-mail they were sent.
"""

from __future__ import annotations

from typing import Any

from orders.models import Order
from utilities.audit import ERASED, Scrubber

from .models import CustomerEmail, Notification

#: The customer e-mail's fields that are the customer's: the address and what they read.
CUSTOMER_EMAIL_FIELDS = ("to", "subject", "body")


def erase(order: Order, scrubber: Scrubber) -> None:
    """Replace the customer in notifications about the order; blank the e-mail sent to them."""
    for note in Notification.objects.filter(order_id=order.pk).only("id", "title", "body"):
        title, body = scrubber.text(note.title), scrubber.text(note.body)
        if (title, body) != (note.title, note.body):
            Notification.objects.filter(pk=note.pk).update(title=title, body=body)
    emails = list(CustomerEmail.objects.filter(order_id=order.pk))
    for email in emails:
        CustomerEmail.objects.filter(pk=email.pk).update(
            to="", subject=ERASED, body=ERASED, error=scrubber.text(email.error)
        )
    scrubber.audit(
        CustomerEmail,
        [email.pk for email in emails],
        fields=CUSTOMER_EMAIL_FIELDS,
        object_repr=f"{ERASED} → {ERASED}",  # str() of the erased row
    )


def export(order: Order) -> list[dict[str, Any]] | None:
    """The e-mail the customer was sent about the order, as it was sent."""
    return [
        {
            "to": email.to,
            "subject": email.subject,
            "body": email.body,
            "state": email.state,
            "sent_at": email.sent_at.isoformat() if email.sent_at else None,
        }
        for email in CustomerEmail.objects.filter(order_id=order.pk)
    ] or None
