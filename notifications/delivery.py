"""Sending one delivery (an e-mail, a push to one browser), at most once.

A sender first *claims* the row: in one short transaction it moves it from
``pending`` (or ``retry``) to ``sending``, taking the row lock with
SKIP LOCKED. Only the claimer sends; a second task for the same delivery (a
redelivered message, a duplicate queued by the sweep) finds nothing to claim
and returns. The outcome is recorded after the send. A worker that dies in
between leaves the row ``sending``: it is not sent again (a notification
told twice is worse than one told late or lost), and the admin shows it.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import push
from .models import Delivery, PushSubscription

log = logging.getLogger(__name__)

#: Tries before a delivery that keeps failing (mail server away) is given up.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Result:
    """What became of one call: ``state`` is the row's new state (or ``skipped``: nothing to
    send, already sent or claimed elsewhere); ``retry_in`` seconds when it will be tried again."""

    state: str
    retry_in: float | None = None


def _claim(delivery_id: int) -> Delivery | None:
    with transaction.atomic():
        row = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=delivery_id, state__in=Delivery.CLAIMABLE)
            .select_related("notification", "notification__user", "subscription")
            .first()
        )
        if row is None:
            return None
        row.state = Delivery.State.SENDING
        row.attempts += 1
        row.save(update_fields=["state", "attempts"])
        return row


def send(delivery_id: int) -> Result:
    """Claim the delivery and send it; the outcome is on the row."""
    row = _claim(delivery_id)
    if row is None:
        return Result("skipped")
    if row.channel == Delivery.Channel.EMAIL:
        state, detail = _send_email(row)
    else:
        state, detail = _send_push(row)
    retry_in = None
    if state == Delivery.State.RETRY and row.attempts >= MAX_ATTEMPTS:
        state = Delivery.State.FAILED
    if state == Delivery.State.RETRY:
        retry_in = min(3600.0, 30.0 * 2 ** (row.attempts - 1))
    Delivery.objects.filter(pk=row.pk).update(
        state=state,
        last_error=detail[:500],
        sent_at=timezone.now() if state == Delivery.State.SENT else None,
    )
    if state != Delivery.State.SENT:
        log.warning("Notification delivery %s: %s (%s)", row.pk, state, detail)
    return Result(state, retry_in)


def _send_email(row: Delivery) -> tuple[str, str]:
    notification = row.notification
    link = f"{settings.SITE_URL}{notification.url}" if notification.url.startswith("/") else ""
    lines = [notification.body, ""]
    if link:
        lines += [f"Open it: {link}", ""]
    lines += [
        "—",
        "RKH Photo Orders. Choose which notifications you get, and how, in your settings: "
        f"{settings.SITE_URL}/notifications/settings/",
    ]
    message = EmailMessage(
        subject=notification.title,
        body="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[row.target],
        headers={"Auto-Submitted": "auto-generated"},
    )
    try:
        message.send()
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        return Delivery.State.FAILED, f"The mail server refused it: {exc}"
    except (smtplib.SMTPException, OSError) as exc:
        return Delivery.State.RETRY, f"The mail server could not be reached: {exc}"
    return Delivery.State.SENT, ""


def _send_push(row: Delivery) -> tuple[str, str]:
    subscription = row.subscription
    if subscription is None:
        return Delivery.State.GONE, "The browser unsubscribed."
    outcome = push.send(subscription, push.payload_for(row.notification))
    if outcome.state == "gone":
        # RFC 8030: 404/410 mean the subscription expired or was withdrawn; never send to it
        # again. Its delivery rows keep their history (subscription set to null).
        PushSubscription.objects.filter(pk=subscription.pk).delete()
        return Delivery.State.GONE, outcome.detail
    if outcome.state == "sent":
        PushSubscription.objects.filter(pk=subscription.pk).update(last_success_at=timezone.now())
        return Delivery.State.SENT, ""
    if outcome.state == "retry":
        return Delivery.State.RETRY, outcome.detail
    return Delivery.State.FAILED, outcome.detail


def waiting_ids() -> list[int]:
    """Deliveries whose task was lost: pending for over a minute (the broker was away at the
    commit), or waiting for a retry for longer than all the back-offs add up to."""
    now = timezone.now()
    lost = Q(state=Delivery.State.PENDING, created_at__lt=now - timedelta(minutes=1)) | Q(
        state=Delivery.State.RETRY,
        attempts__lt=MAX_ATTEMPTS,
        created_at__lt=now - timedelta(hours=2),
    )
    return list(Delivery.objects.filter(lost).order_by("pk").values_list("pk", flat=True)[:500])
