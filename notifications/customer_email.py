"""The optional e-mail to the customer when their order is delivered (completed).

Off by default; switched on for an event's orders or for one order (``CustomerEmailSwitch``;
the order's switch wins), in the back office. Its text (``CustomerEmailTemplate``) is edited by
Managers and Admins, with placeholders filled in here by plain substitution of known names:
no attribute access, no template language, nothing a manager types can run. Sent once: the
``CustomerEmail`` row (unique per order) is made before sending, so a task delivered twice
finds it and sends nothing. The timeline says "E-mail sent to the customer"; the row, the text
and the switches are audited (django-auditlog).
"""

from __future__ import annotations

import logging
import re
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format

from orders import services as order_services
from orders.models import Order

from .models import CustomerEmail, CustomerEmailSwitch, CustomerEmailTemplate
from .timeline import SENT_EVENT

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def switched_on(order: Order) -> bool:
    """The order's own switch if it has one, else its event's; off without either."""
    switch = CustomerEmailSwitch.objects.filter(order=order).first()
    if switch is None:
        switch = CustomerEmailSwitch.objects.filter(event_id=order.event_id).first()
    return bool(switch and switch.send)


def values(order: Order) -> dict[str, str]:
    event = order.event
    return {
        "customer_name": order.customer_name,
        "order_ref": order.order_ref,
        "event_name": event.name or event.event_id,
        "event_id": event.event_id,
        "event_date": date_format(event.date, "j M Y") if event.date else "",
        "image_count": str(order.synced_images or order.processed_images),
    }


def render(text: str, known: dict[str, str]) -> str:
    """``{name}`` → its value for the names in ``known``; anything else stays as written."""
    return _PLACEHOLDER.sub(lambda m: known.get(m.group(1), m.group(0)), text)


def send_for(order_id: int) -> str:
    """Send the order's customer e-mail if it is switched on and not sent yet; what happened."""
    order = Order.objects.select_related("event").filter(pk=order_id).first()
    if order is None or order.status != Order.Status.COMPLETED:
        return "not completed"
    if not order.customer_email or not switched_on(order):
        return "off"
    template = CustomerEmailTemplate.current()
    known = values(order)
    subject = " ".join(render(template.subject, known).split())[:300]  # one line, always
    body = render(template.body, known)
    try:
        with transaction.atomic():
            record = CustomerEmail.objects.create(
                order=order, to=order.customer_email, subject=subject, body=body
            )
    except IntegrityError:
        return "already"
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[record.to],
        headers={"Auto-Submitted": "auto-generated"},
    )
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        record.state, record.error = CustomerEmail.State.FAILED, str(exc)[:500]
        record.save(update_fields=["state", "error"])
        log.warning("Customer e-mail of %s not sent: %s", order.order_ref, exc)
        return "failed"
    record.state, record.sent_at = CustomerEmail.State.SENT, timezone.now()
    record.save(update_fields=["state", "sent_at"])
    # Not the address: the timeline is plain JSON, and the address is the order's (encrypted).
    order_services.record_event(order, SENT_EVENT, {})
    return "sent"
