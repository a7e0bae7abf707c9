"""Writes of the notifications app: making notifications, reading them, push subscriptions.

``notify`` is the one way notifications are made. It is idempotent: a
notification is keyed by ``(user, source_key)`` (a unique constraint), so a
task that runs twice, or a signal that fires twice, finds the row and creates
nothing, and only a newly made notification gets deliveries (one e-mail, one
push per subscribed browser, as the user's preferences say). The deliveries
are sent by tasks queued after commit (``delivery.send``), never here: making
a notification must not wait for a mail server or a push service.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import preferences
from accounts import services as account_services
from utilities import user_streams

from . import push, tasks
from .compose import Message
from .models import Delivery, Notification, PushSubscription

log = logging.getLogger(__name__)


class SubscriptionError(ValueError):
    """A push subscription the browser sent that cannot be used; the message says why."""


def notify(recipients: Iterable[tuple[Any, Message]]) -> list[Notification]:
    """Make each recipient's notification (once), with its deliveries; returns those made now.

    The caller's transaction (or this one) commits them; then the bells ring and
    the deliveries are queued.
    """
    made: list[Notification] = []
    with transaction.atomic():
        for user, message in recipients:
            table = preferences.notification_table(user.settings)[message.kind]
            if not any(table.values()):
                continue  # the user wants none of it: nothing to record
            notification = _create_once(user, message, table)
            if notification is None:
                continue
            made.append(notification)
            _add_deliveries(notification, user, email=table["email"])
        if made:
            ids = [n.pk for n in made]
            users = {n.user_id for n in made}
            transaction.on_commit(lambda: _after_commit(ids, users), robust=True)
    return made


def _create_once(user: Any, message: Message, table: dict[str, bool]) -> Notification | None:
    """The new notification, or None when this user has it already (made earlier)."""
    if Notification.objects.filter(user=user, source_key=message.source_key).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the outer one usable
            return Notification.objects.create(
                user=user,
                kind=message.kind,
                source_key=message.source_key,
                order=message.order,
                title=message.title[:200],
                body=message.body,
                url=message.url[:500],
                in_app=table["in_app"],
                browser=table["browser"],
            )
    except IntegrityError:  # another worker made it between our look and our insert
        return None


def _add_deliveries(notification: Notification, user: Any, *, email: bool) -> None:
    rows = []
    if email and user.email:
        rows.append(Delivery(notification=notification, channel="email", target=user.email))
    if notification.browser and push.enabled():
        for subscription in PushSubscription.objects.filter(user=user):
            rows.append(
                Delivery(
                    notification=notification,
                    channel="push",
                    target=str(subscription.pk),
                    subscription=subscription,
                )
            )
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)


def _after_commit(notification_ids: list[int], user_ids: set[int]) -> None:
    user_streams.ring(user_ids, wait=2.0)
    for delivery_id in Delivery.objects.filter(
        notification_id__in=notification_ids, state__in=Delivery.CLAIMABLE
    ).values_list("pk", flat=True):
        tasks.send_delivery.delay(delivery_id)


# --- reading ---------------------------------------------------------------------------------


def mark_read(notification: Notification, *, actor: Any) -> Notification:
    """Mark one of the actor's own notifications read (the caller found it through
    ``Notification.objects.for_user(actor)``)."""
    if notification.user_id != actor.pk:
        raise PermissionError("Not your notification.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
        transaction.on_commit(lambda: user_streams.ring([actor.pk]), robust=True)
    return notification


def mark_all_read(*, actor: Any) -> int:
    """Mark every unread notification of the actor read; how many were."""
    count = (
        Notification.objects.for_user(actor).unread().update(read_at=timezone.now())
        if actor.is_authenticated
        else 0
    )
    if count:
        transaction.on_commit(lambda: user_streams.ring([actor.pk]), robust=True)
    return count


def save_preferences(user: Any, table: dict[str, dict[str, bool]]) -> Any:
    """Store the user's notification table (checked) in ``User.settings``, keeping the rest."""
    cleaned = preferences.clean_notifications(table)
    merged = dict(user.settings) if isinstance(user.settings, dict) else {}
    merged[preferences.SETTINGS_KEY] = cleaned
    return account_services.update_settings(user, merged)


# --- push subscriptions ----------------------------------------------------------------------


def subscribe(
    user: Any, *, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> PushSubscription:
    """Remember a browser's push subscription for ``user`` (the endpoint is the browser's:
    subscribing again, or as someone else on a shared browser, moves it)."""
    push.check_subscription(endpoint, p256dh, auth)  # raises SubscriptionError-like ValueError
    with transaction.atomic():
        subscription, _ = PushSubscription.objects.select_for_update().update_or_create(
            endpoint=endpoint,
            defaults={
                "user": user,
                "p256dh": p256dh,
                "auth": auth,
                "user_agent": user_agent[:300],
            },
        )
    return subscription


def unsubscribe(user: Any, *, endpoint: str) -> bool:
    """Forget this browser's subscription if it is the user's; whether one was removed."""
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return bool(deleted)
