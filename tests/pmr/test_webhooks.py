"""The PMR's webhook (POST /api/v1/pmr/webhook) and the scheduled pull: signatures, replays,
unknown orders, newest-wins, and the pull catching a status the webhook missed."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orders.models import OrderEvent
from pmr import status, tasks
from pmr.clients import sign
from pmr.models import OrderDelivery, SyncCursor, WebhookDelivery

pytestmark = pytest.mark.django_db
URL = "/api/v1/pmr/webhook"
SECRET = "demo-webhook-secret"


def post(client, body: dict, *, ts=None, secret=SECRET, delivery=None, signature=None, raw=None):
    raw = raw if raw is not None else json.dumps(body).encode()
    ts = str(int(time.time()) if ts is None else ts)
    delivery = delivery or str(uuid.uuid4())
    headers = {
        "X-PMR-Event": "order.status_changed",
        "X-PMR-Delivery": delivery,
        "X-PMR-Timestamp": ts,
        "X-PMR-Signature": signature or sign(secret, ts, delivery, raw),
    }
    return client.generic("POST", URL, raw, content_type="application/json", headers=headers)


def change(order, status_="delivered", reason=None, at=None) -> dict:
    at = at or datetime.now(UTC)
    return {
        "order_ref": order.order_ref,
        "status": status_,
        "status_reason": reason,
        "changed_at": at.isoformat(),
    }


def status_events(order) -> int:
    return OrderEvent.objects.filter(order=order, kind=status.STATUS_EVENT).count()


@pytest.fixture
def order(make_order, manager):
    return make_order(manager)


@pytest.fixture
def accepted(client, django_capture_on_commit_callbacks):
    """POST a webhook, expect 202, run the task it queued (eagerly); returns the outcome."""

    def _send(body: dict, **kwargs) -> str:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = post(client, body, **kwargs)
        assert response.status_code == 202, response.content
        assert len(callbacks) == 1  # apply_webhook.delay at the commit
        stored = WebhookDelivery.objects.latest("received_at")
        return tasks.apply_webhook.apply(args=(stored.pk,)).get()

    return _send


@pytest.mark.parametrize(
    ("case", "kwargs", "reason"),
    [
        ("bad signature", {"secret": "not-the-secret"}, "bad_signature"),
        ("garbage signature", {"signature": "sha256=zz"}, None),
        ("stale timestamp", {"ts": -310}, "stale"),
        ("future timestamp", {"ts": +310}, "future"),
    ],
)
def test_refused_with_401_and_nothing_stored(client, order, case, kwargs, reason):
    if "ts" in kwargs:  # an offset from now (now: when the test runs, not when collected)
        kwargs = {**kwargs, "ts": int(time.time()) + kwargs["ts"]}
    response = post(client, change(order), **kwargs)
    assert response.status_code == 401, (case, response.content)
    error = response.json()["error"]
    assert error["code"] == "invalid_signature"
    if reason:
        assert error["details"]["reason"] == reason
    assert not WebhookDelivery.objects.exists()
    assert status_events(order) == 0


def test_a_signature_over_other_bytes_is_refused(client, order):
    body = change(order)
    ts = str(int(time.time()))
    delivery = str(uuid.uuid4())
    signature = sign(SECRET, ts, delivery, json.dumps(body).encode())
    tampered = json.dumps({**body, "status": "rejected"}).encode()
    response = post(client, body, ts=ts, delivery=delivery, signature=signature, raw=tampered)
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_a_captured_delivery_replayed_under_a_new_delivery_id_is_refused(accepted, client, order):
    # A genuine delivery is applied once...
    body, ts, delivery = change(order, "rejected", "Blurry"), str(int(time.time())), "d-1"
    signature = sign(SECRET, ts, delivery, json.dumps(body).encode())
    accepted(body, ts=ts, delivery=delivery, signature=signature)
    assert status_events(order) == 1
    # ...and the same bytes, timestamp and signature under another X-PMR-Delivery (which would
    # not count as a repeat) do not verify: the delivery id is in the signed text.
    replay = post(client, body, ts=ts, delivery="d-2", signature=signature)
    assert replay.status_code == 401
    assert replay.json()["error"]["details"]["reason"] == "bad_signature"
    assert WebhookDelivery.objects.count() == 1
    assert status_events(order) == 1


@pytest.mark.parametrize("delivery", ["a.b", "with space", "x" * 101])
def test_a_delivery_id_that_could_blur_the_signed_text_is_refused(client, order, delivery):
    ts = str(int(time.time()))
    signature = sign(SECRET, ts, "fine", json.dumps(change(order)).encode())
    response = post(client, change(order), ts=ts, delivery=delivery, signature=signature)
    assert response.status_code == 401
    assert response.json()["error"]["details"]["reason"] == "malformed"


def test_a_changed_at_far_in_the_future_is_refused_and_later_updates_still_apply(
    accepted, client, order
):
    ahead = change(order, "rejected", "Forged", at=datetime.now(UTC) + timedelta(days=30))
    response = post(client, ahead)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"fields": ["changed_at"]}
    assert not WebhookDelivery.objects.exists()
    # A clock a little ahead (within the tolerance) is fine, and the genuine update after it
    # is not hidden behind a date a month away.
    assert accepted(change(order, "on_hold", at=datetime.now(UTC) + timedelta(seconds=60)))
    assert accepted(change(order, "delivered", at=datetime.now(UTC) + timedelta(seconds=61)))
    assert OrderDelivery.objects.get(order=order).pmr_status == "delivered"


def test_without_a_secret_every_webhook_is_refused_even_one_signed_with_the_empty_key(
    client, order, settings
):
    settings.PMR_WEBHOOK_SECRET = ""
    response = post(client, change(order), secret="")
    assert response.status_code == 503
    assert not WebhookDelivery.objects.exists()
    assert status_events(order) == 0


def test_unknown_order_is_404_and_nothing_stored(client, db):
    response = post(client, {"order_ref": "ORD-1999-000001", "status": "delivered"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(
    ("pmr_status", "reason"),
    [("delivered", None), ("rejected", "Blurry images"), ("on_hold", "Customer unpaid")],
)
def test_a_good_webhook_is_applied_by_the_task(accepted, order, pmr_status, reason):
    outcome = accepted(change(order, pmr_status, reason))
    assert outcome == f"applied: {pmr_status}"
    delivery = OrderDelivery.objects.get(order=order)
    assert delivery.pmr_status == pmr_status
    assert delivery.pmr_status_reason == (reason or "")
    event = OrderEvent.objects.get(order=order, kind=status.STATUS_EVENT)
    assert event.payload["to"] == pmr_status
    assert event.payload["source"] == "webhook"


def test_a_repeated_delivery_id_changes_nothing(client, accepted, order):
    delivery_id = str(uuid.uuid4())
    accepted(change(order, "on_hold", "Waiting"), delivery=delivery_id)
    assert status_events(order) == 1

    # The redelivery (fresh timestamp and signature, same id): 200, no second change, even
    # with another body.
    again = post(client, change(order, "rejected", "Other"), delivery=delivery_id)
    assert again.status_code == 200
    assert again.json() == {"status": "already processed"}
    assert status_events(order) == 1
    assert WebhookDelivery.objects.count() == 1
    assert OrderDelivery.objects.get(order=order).pmr_status == "on_hold"
    # The task run twice (a redelivered message) does not apply twice either.
    stored = WebhookDelivery.objects.get()
    status.apply_webhook(stored.pk)
    assert status_events(order) == 1


def test_an_older_change_after_a_newer_one_does_not_turn_the_status_back(accepted, order):
    now = datetime.now(UTC)
    assert accepted(change(order, "delivered", at=now)) == "applied: delivered"
    outcome = accepted(change(order, "on_hold", "late", at=now - timedelta(minutes=5)))
    assert outcome.startswith("ignored")
    delivery = OrderDelivery.objects.get(order=order)
    assert delivery.pmr_status == "delivered"
    assert delivery.pmr_status_reason == ""
    assert status_events(order) == 1


def test_the_simulator_webhook_body_and_signature_are_accepted(
    sim, pmr_event, client, ai_done_order
):
    """What the simulator actually sends (headers, raw body), replayed through the test client."""
    from pmr import drain

    order = ai_done_order(1)
    drain.drain_order(order.pk)  # the order exists in the PMR
    sent = sim.send_webhook(order_ref=order.order_ref, status="rejected", status_reason="x")
    headers = {k: v for k, v in sent["headers"].items() if k.lower().startswith("x-pmr-")}
    raw = json.dumps(sent["body"], separators=(",", ":")).encode()  # as the simulator sent it
    response = client.generic("POST", URL, raw, content_type="application/json", headers=headers)
    assert response.status_code == 202, response.content
    assert WebhookDelivery.objects.get().delivery_id == sent["delivery_id"]


def test_the_pull_applies_a_status_the_webhook_missed(sim, pmr_event, ai_done_order):
    from pmr import drain

    order = ai_done_order(1)
    drain.drain_order(order.pk)  # the order exists in the PMR, completed
    SyncCursor.objects.update_or_create(
        name="orders", defaults={"value": datetime.now(UTC) - timedelta(minutes=10)}
    )
    # The PMR moves it on; its webhook cannot reach us (no webhook URL: nothing is sent).
    sim.send_webhook(order_ref=order.order_ref, status="rejected", status_reason="Wrong event")
    assert OrderDelivery.objects.get(order=order).pmr_status == "completed"

    applied = status.pull_updates()

    assert applied == 1
    delivery = OrderDelivery.objects.get(order=order)
    assert (delivery.pmr_status, delivery.pmr_status_reason) == ("rejected", "Wrong event")
    event = OrderEvent.objects.filter(order=order, kind=status.STATUS_EVENT).get()
    assert event.payload["source"] == "pull"
    # The next pull, overlapping the last one, changes nothing.
    assert status.pull_updates() == 0
    assert status_events(order) == 1


def test_the_pull_waits_while_the_circuit_is_open(sim, settings):
    """An open circuit means the PMR is down: the scheduled pull asks nothing and moves no
    cursor; once the circuit closes, the same cursor is used."""
    from pmr import connection, status
    from pmr.models import SyncCursor

    breaker = connection.breaker()
    for _ in range(settings.PMR_BREAKER_FAILURES):
        breaker.record_failure(connection.BREAKER_NAME)
    before = sim.state()["calls_total"]
    assert status.pull_updates() == 0
    assert not SyncCursor.objects.exists()
    assert sim.state()["calls_total"] == before
    breaker.record_success(connection.BREAKER_NAME)
    status.pull_updates()
    assert SyncCursor.objects.filter(name="orders").exists()
