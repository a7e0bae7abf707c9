"""Celery tasks of notifications (queue ``default``): thin; the work is in the modules.

Nothing in the pipeline waits for them: the hooks queue them after commit, and
they are idempotent (``services.notify`` makes a notification once per user and
source; ``delivery.send`` claims a row before sending), so a message delivered
twice does nothing twice.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from orders.models import OrderEvent

from . import compose, customer_email, delivery, outages, services

_DB_TROUBLE = (OperationalError, InterfaceError)


@shared_task(acks_late=True, autoretry_for=_DB_TROUBLE, retry_backoff=5, max_retries=5)
def notify_order_event(event_id: int) -> int:
    """Notify whoever a timeline entry concerns (an order completed, needs review, a PMR
    refusal); how many notifications were made now (0 when they exist already)."""
    entry = OrderEvent.objects.filter(pk=event_id).first()
    if entry is None:  # the order was deleted meanwhile
        return 0
    return len(services.notify(compose.for_order_event(entry)))


@shared_task(bind=True, acks_late=True, autoretry_for=_DB_TROUBLE, retry_backoff=5, max_retries=5)
def send_delivery(self, delivery_id: int) -> str:
    """Send one e-mail or push; a passing failure (mail server away) comes back later."""
    result = delivery.send(delivery_id)
    if result.retry_in is not None:
        send_delivery.apply_async((delivery_id,), countdown=result.retry_in)
    return result.state


@shared_task(acks_late=True, autoretry_for=_DB_TROUBLE, retry_backoff=5, max_retries=3)
def send_waiting() -> int:
    """Beat: queue the deliveries whose task was lost (broker away at the commit)."""
    ids = delivery.waiting_ids()
    for delivery_id in ids:
        send_delivery.delay(delivery_id)
    return len(ids)


@shared_task(acks_late=True, autoretry_for=_DB_TROUBLE, retry_backoff=5, max_retries=3)
def check_outages() -> dict[str, str]:
    """Beat: look at every circuit breaker; an outage that began is told once."""
    return outages.check()


@shared_task(acks_late=True, autoretry_for=_DB_TROUBLE, retry_backoff=5, max_retries=5)
def notify_failed_signins(
    username: str, count: int, minutes: int, ip: str, window: str, account_id: int | None
) -> int:
    """Tell the Admins about repeated failed sign-ins for one account (once per window)."""
    return len(
        services.notify(
            compose.for_failed_signins(
                username=username,
                count=count,
                minutes=minutes,
                ip=ip,
                window=window,
                account_id=account_id,
            )
        )
    )


@shared_task(acks_late=True, autoretry_for=_DB_TROUBLE, retry_backoff=5, max_retries=5)
def notify_signins_from_address(ip: str, count: int, minutes: int, window: str) -> int:
    """Tell the Admins about repeated failed sign-ins from one address (once per window)."""
    return len(
        services.notify(
            compose.for_signins_from_address(ip=ip, count=count, minutes=minutes, window=window)
        )
    )


@shared_task(acks_late=True, autoretry_for=_DB_TROUBLE, retry_backoff=5, max_retries=5)
def send_customer_email(order_id: int) -> str:
    """The e-mail to the customer of a completed order, if switched on; sent once."""
    return customer_email.send_for(order_id)
