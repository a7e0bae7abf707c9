"""Notifications through real Celery workers: an order completing through the PMR drain and a
refused PMR write (the PMR simulator closing the event) notify the right people once, by
e-mail (file backend) and Web Push (the push service simulator decrypts what arrived); a task
delivered twice sends nothing twice; the outage check runs on the queue."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import transaction

from accounts import services as account_services
from notifications import services, tasks
from notifications.models import Delivery, Kind, Notification
from notifications.push_simulator import PushServiceSimulator
from orders.models import Order, OrderEvent
from pmr import outbox
from tests.pmr.conftest import ai_done_order, manager, media_root, pmr_event, sim  # noqa: F401
from tests.workers import celery_worker_process

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
WAIT = 60


def wait_for(what: str, check: Callable[[], bool], log: Path, seconds: float = WAIT) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text()[-4000:]}")


@pytest.fixture
def mail_dir(tmp_path) -> Path:
    path = tmp_path / "mail"
    path.mkdir()
    return path


@pytest.fixture
def push_service(settings):
    settings.WEBPUSH_ALLOWED_HOSTS = ["127.0.0.1"]
    with PushServiceSimulator() as service:
        yield service


#: What Django's file e-mail backend writes after each message.
MAIL_SEPARATOR = "\n" + "-" * 79 + "\n"


def mails(folder: Path) -> list[str]:
    """Every message written, not every file: the file backend names a file by the second and
    its connection object's ``id()``, so two connections a second apart can share one file
    (CI met it: four e-mails in fewer files)."""
    return [
        message
        for p in sorted(folder.iterdir())
        for message in p.read_text().split(MAIL_SEPARATOR)
        if message.strip()
    ]


def worker(sim, media_root, tmp_path, mail_dir, queues="pmr,default"):  # noqa: F811
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.notifications.worker_settings",
        "PMR_BASE_URL": sim.base_url,
        "PMR_CLIENT_ATTEMPTS": "1",
        "PMR_TIMEOUT_SECONDS": "5",
        "TEST_EMAIL_DIR": str(mail_dir),
    }
    return celery_worker_process(queues, media_root=media_root, log_dir=tmp_path, env=env)


def test_a_completed_order_is_told_once_by_mail_and_push(
    sim,  # noqa: F811
    pmr_event,  # noqa: F811
    ai_done_order,  # noqa: F811
    media_root,  # noqa: F811
    tmp_path,
    mail_dir,
    push_service,
    users,
    settings,
):
    owner = users["User"]
    account_services.update_settings(
        owner, {"notifications": {"order_completed": {"email": True, "browser": True}}}
    )
    browser = push_service.subscribe(settings.VAPID_PUBLIC_KEY)
    services.subscribe(
        owner,
        endpoint=browser["endpoint"],
        p256dh=browser["keys"]["p256dh"],
        auth=browser["keys"]["auth"],
        user_agent="test browser",
    )
    with worker(sim, media_root, tmp_path, mail_dir) as running:
        order = ai_done_order(2, owner=owner)  # the PMR drain is queued at the commit
        wait_for(
            "the order to complete",
            lambda: Order.objects.get(pk=order.pk).status == Order.Status.COMPLETED,
            running.log,
        )
        wait_for("the e-mail", lambda: len(mails(mail_dir)) >= 1, running.log)
        messages = push_service.wait_for(1, timeout=WAIT)

        note = Notification.objects.get(user=owner)
        assert note.kind == Kind.ORDER_COMPLETED
        assert "2 of 2 images delivered to the PMR" in note.body
        (mail,) = mails(mail_dir)
        assert f"Subject: Order {order.order_ref} is completed" in mail
        assert f"To: {owner.email}" in mail
        assert f"/orders/{order.order_ref}/" in mail
        (message,) = messages
        payload = message.json()
        assert payload["title"] == note.title
        assert payload["url"] == f"/orders/{order.order_ref}/"
        assert payload["open_url"] == f"/notifications/{note.pk}/open"
        assert message.ttl == settings.WEBPUSH_TTL_SECONDS
        wait_for(
            "both deliveries recorded as sent",
            lambda: set(Delivery.objects.values_list("state", flat=True)) == {"sent"},
            running.log,
        )
        assert owner.push_subscriptions.get().last_success_at is not None

        # The same event again (a redelivered task, a duplicate): nothing more is made or sent.
        entry = OrderEvent.objects.get(
            order=order, kind="order.status_changed", payload__to="completed"
        )
        tasks.notify_order_event.delay(entry.pk)
        tasks.notify_order_event.delay(entry.pk)
        for delivery in Delivery.objects.all():
            tasks.send_delivery.delay(delivery.pk)
        marker = tasks.send_waiting.delay()  # runs after them on the one-process worker
        wait_for("the repeated tasks", lambda: marker.ready(), running.log)

    assert Notification.objects.filter(user=owner).count() == 1
    assert Notification.objects.count() == 1  # the owner only: nobody else was concerned
    assert len(mails(mail_dir)) == 1
    assert len(push_service.messages) == 1


def test_a_refused_pmr_write_tells_the_owner_and_the_back_office(
    sim,  # noqa: F811
    pmr_event,  # noqa: F811
    ai_done_order,  # noqa: F811
    media_root,  # noqa: F811
    tmp_path,
    mail_dir,
    users,
    manager,  # noqa: F811 (the PMR fixtures' own Manager: told too)
):
    owner = users["User"]
    order = ai_done_order(2, deliver=False, owner=owner)
    sim.add_events([{"event_id": pmr_event.event_id, "name": "x", "status": "closed"}], [])
    with worker(sim, media_root, tmp_path, mail_dir) as running:
        with transaction.atomic():
            outbox.deliver(order)  # the drain is queued at the commit; the PMR refuses
        wait_for(
            "the refusal's notifications",
            lambda: Notification.objects.filter(kind=Kind.PMR_REFUSED).count() >= 4,
            running.log,
        )
        wait_for("their e-mails", lambda: len(mails(mail_dir)) >= 4, running.log)
        time.sleep(1)  # anything more would arrive now

    told = Notification.objects.filter(kind=Kind.PMR_REFUSED)
    assert set(told.values_list("user__username", flat=True)) == {
        owner.username,
        users["Manager"].username,
        manager.username,
        users["Admin"].username,
    }
    assert "closed" in told.get(user=owner).body
    assert len(mails(mail_dir)) == 4  # e-mail is on by default for refusals, once each
    assert not Notification.objects.filter(user=users["Viewer"]).exists()


def test_the_outage_check_runs_on_the_queue(
    sim,  # noqa: F811
    media_root,  # noqa: F811
    tmp_path,
    mail_dir,
    users,
    settings,
):
    from utilities.circuit_breaker import CircuitBreaker
    from utilities.redis_clients import client_for

    breaker = CircuitBreaker(
        client_for(settings.REDIS_URL), failures=settings.PMR_BREAKER_FAILURES,
        cooldown=settings.PMR_BREAKER_COOLDOWN_SECONDS, prefix="rkh:pmr:breaker",
    )  # fmt: skip
    for _ in range(settings.PMR_BREAKER_FAILURES):
        breaker.record_failure("pmr")
    with worker(sim, media_root, tmp_path, mail_dir, queues="default") as running:
        first = tasks.check_outages.delay()
        wait_for("the first check", first.ready, running.log)
        second = tasks.check_outages.delay()
        wait_for("the second check", second.ready, running.log)
    assert first.get() == {"pmr": "started"}
    assert second.get() == {}
    assert set(
        Notification.objects.filter(kind=Kind.SERVICE_DOWN).values_list("user__username", flat=True)
    ) == {users["Manager"].username, users["Admin"].username}
