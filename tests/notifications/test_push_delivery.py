"""A push delivery's outcomes against the push service simulator: sent, retried on 5xx, and a
subscription the push service no longer knows (410) deleted, never tried again."""

from __future__ import annotations

import pytest

from notifications import delivery, services
from notifications.models import Delivery, PushSubscription
from notifications.push_simulator import PushServiceSimulator

from .conftest import complete, notify_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def push_service(settings):
    settings.WEBPUSH_ALLOWED_HOSTS = ["127.0.0.1"]
    with PushServiceSimulator() as service:
        yield service


def subscribed(user, push_service, settings) -> dict:
    browser = push_service.subscribe(settings.VAPID_PUBLIC_KEY)
    services.subscribe(
        user,
        endpoint=browser["endpoint"],
        p256dh=browser["keys"]["p256dh"],
        auth=browser["keys"]["auth"],
    )
    return browser


def test_retry_then_sent_then_gone(users, make_order, push_service, settings):
    owner = users["User"]
    browser = subscribed(owner, push_service, settings)
    notify_for(complete(make_order(owner)))
    row = Delivery.objects.get(channel="push")

    push_service.fail_next(503)
    assert delivery.send(row.pk).state == Delivery.State.RETRY
    assert delivery.send(row.pk).state == Delivery.State.SENT
    assert delivery.send(row.pk).state == "skipped"  # sent: never again
    assert len(push_service.messages) == 1

    push_service.expire(browser["endpoint"])
    notify_for(complete(make_order(owner)))
    second = Delivery.objects.exclude(pk=row.pk).get(channel="push")
    assert delivery.send(second.pk).state == Delivery.State.GONE
    assert not PushSubscription.objects.exists()  # forgotten: 410 means it will never work
    second.refresh_from_db()
    assert second.subscription is None
    assert "410" in second.last_error


def test_no_push_without_vapid_keys(users, make_order, push_service, settings):
    owner = users["User"]
    subscribed(owner, push_service, settings)
    settings.VAPID_PRIVATE_KEY = ""
    notify_for(complete(make_order(owner)))
    assert not Delivery.objects.filter(channel="push").exists()
