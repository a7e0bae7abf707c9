"""Notifications that come from outside the orders: a circuit breaker opening (AI provider or
PMR down) and repeated failed sign-ins through the sign-in form."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.core import mail
from django.core.cache import cache

from notifications import outages
from notifications.models import Kind, Notification, ServiceOutage
from utilities.circuit_breaker import CircuitBreaker
from utilities.redis_clients import shared

pytestmark = pytest.mark.django_db


@pytest.fixture
def clean_breakers(settings):
    client = redis.Redis.from_url(settings.REDIS_URL)

    def wipe():
        keys = [*client.scan_iter("rkh:pmr:breaker*"), *client.scan_iter("rkh:ai:breaker*")]
        if keys:
            client.delete(*keys)

    wipe()
    yield client
    wipe()


def open_circuit(client, settings, *, prefix="rkh:pmr:breaker", name="pmr"):
    breaker = CircuitBreaker(
        client, failures=settings.PMR_BREAKER_FAILURES, cooldown=60, prefix=prefix
    )
    for _ in range(settings.PMR_BREAKER_FAILURES):
        breaker.record_failure(name)
    return breaker


def test_a_pmr_outage_is_told_once_to_managers_and_admins(users, settings, clean_breakers):
    breaker = open_circuit(clean_breakers, settings)

    assert outages.check() == {"pmr": "started"}
    breaker.record_failure("pmr")  # more failures during the same outage
    assert outages.check() == {}

    told = Notification.objects.filter(kind=Kind.SERVICE_DOWN)
    assert set(told.values_list("user__username", flat=True)) == {
        users["Manager"].username,
        users["Admin"].username,
    }
    assert told.first().title == "The PMR cannot be reached"

    breaker.record_success("pmr")
    assert outages.check() == {"pmr": "ended"}
    assert ServiceOutage.objects.get().ended_at is not None

    open_circuit(clean_breakers, settings)  # a second outage is a second notification
    assert outages.check() == {"pmr": "started"}
    assert Notification.objects.filter(kind=Kind.SERVICE_DOWN, user=users["Manager"]).count() == 2


def test_an_ai_provider_outage_names_the_provider(users, settings, clean_breakers):
    settings.AI_PROVIDERS = ["runware", "gemini", "local"]
    settings.AI_BREAKER_FAILURES = 2
    breaker = CircuitBreaker(clean_breakers, failures=2, cooldown=60)
    breaker.record_failure("runware")
    breaker.record_failure("runware")

    assert outages.check() == {"ai:runware": "started"}
    note = Notification.objects.get(user=users["Manager"])
    assert note.title == "AI provider Runware is not answering"
    assert not Notification.objects.filter(user=users["User"]).exists()


def login_failures(client, username: str, n: int, address: str = "203.0.113.9") -> None:
    for _ in range(n):
        response = client.post(
            "/accounts/login/",
            {"login": username, "password": "not-the-password"},
            REMOTE_ADDR=address,
        )
        assert response.status_code == 200  # the form again, with its error


@pytest.fixture
def signin_settings(settings, eager_tasks, django_capture_on_commit_callbacks):
    settings.NOTIFY_SIGNIN_FAILURES = 3
    settings.NOTIFY_SIGNIN_WINDOW_MINUTES = 15
    # allauth's own limits and our counters live in Redis: a fresh prefix per test
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"t-{uuid.uuid4().hex[:8]}"}
    }
    cache.clear()
    redis = shared()
    stale = list(redis.scan_iter(match="rkh:notify:signins:*", count=500))
    if stale:  # the counters of earlier tests (per account and per address)
        redis.delete(*stale)
    return django_capture_on_commit_callbacks


def account_alerts():
    return Notification.objects.filter(kind=Kind.FAILED_SIGNINS, title__contains=" for ")


def test_repeated_failed_sign_ins_tell_the_admins_once(client, users, signin_settings):
    target = users["User"]
    with signin_settings(execute=True):
        login_failures(client, target.username, 2)
    assert not Notification.objects.filter(kind=Kind.FAILED_SIGNINS).exists()

    with signin_settings(execute=True):
        login_failures(client, target.username, 2)  # the 3rd reaches the threshold; the 4th not

    told = account_alerts()
    assert list(told.values_list("user__username", flat=True)) == [users["Admin"].username]
    note = told.get()
    assert target.username in note.title
    assert "203.0.113.9" in note.body
    assert "not-the-password" not in note.body + note.title
    assert note.url == f"/admin/accounts/user/{target.pk}/change/"
    # E-mail is on by default for this kind: sent once, through Django's mail settings.
    mails = [(m.to, m.subject) for m in mail.outbox if m.subject == note.title]
    assert mails == [([users["Admin"].email], note.title)]
    assert f"/admin/accounts/user/{target.pk}/change/" in mail.outbox[0].body


def test_failures_for_an_unknown_name_are_told_too(client, users, signin_settings):
    with signin_settings(execute=True):
        login_failures(client, "nobody-here", 3)
    note = account_alerts().get()
    assert "no account has this name" in note.body


def test_the_admins_count_one_account_whatever_name_was_typed(client, users, signin_settings):
    target = users["User"]
    with signin_settings(execute=True):
        login_failures(client, target.username, 1)
        login_failures(client, target.email.upper(), 1)
    assert not Notification.objects.filter(kind=Kind.FAILED_SIGNINS).exists()
    with signin_settings(execute=True):
        login_failures(client, target.email, 2)  # the 3rd of this account; the 4th adds nothing
    note = account_alerts().get()
    assert note.url == f"/admin/accounts/user/{target.pk}/change/"


def test_one_address_trying_many_names_tells_the_admins_once(client, users, signin_settings):
    with signin_settings(execute=True):
        for name in ("alice", "bob", "carol", "dave"):  # the 3rd reaches the threshold
            login_failures(client, name, 1, address="198.51.100.23")
    assert not account_alerts().exists()  # no name failed often enough by itself
    note = Notification.objects.get(kind=Kind.FAILED_SIGNINS, user=users["Admin"])
    assert note.title == "Repeated failed sign-ins from 198.51.100.23"
    assert "3 failed sign-ins from 198.51.100.23" in note.body
    assert note.url == "/admin/auditlog/logentry/?remote_addr=198.51.100.23"
    # The link works: the admin's log entries from that address.
    client.force_login(users["Admin"])
    page = client.get(note.url)
    assert page.status_code == 200
    assert "unknown: alice" in page.content.decode()
