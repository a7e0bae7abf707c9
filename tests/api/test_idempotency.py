"""``Idempotency-Key`` on creates: a retry replays the first answer, never a second object."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts import idempotency as api_idempotency
from accounts.models import IdempotencyRecord
from events.models import Event
from orders import services as order_services
from orders.models import Image, Order
from tests.conftest import orders_of_customer

from .conftest import API, assert_error, key_client, photo


def _key() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def manager(users):
    return key_client(users["Manager"])[0]


def _create_order(client, event, key, name="Ada"):
    return client.post(
        f"{API}/orders",
        {"event": event.event_id, "customer_name": name},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_replay_returns_the_first_answer_and_creates_nothing(manager, event):
    key = _key()
    first = _create_order(manager, event, key)
    again = _create_order(manager, event, key)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert len(orders_of_customer("Ada")) == 1
    # The kept answer (the order, with its customer) is encrypted at rest like the order.
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM accounts_idempotencyrecord")
        (stored,) = cursor.fetchone()
    assert "Ada" not in stored
    assert b"Ada" in first.content


def test_replay_ignores_json_spacing_and_key_order(manager, event):
    key = _key()
    first = manager.post(
        f"{API}/orders",
        f'{{"event": "{event.event_id}", "customer_name": "Ada"}}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    again = manager.post(
        f"{API}/orders/",
        f'{{"customer_name":"Ada","event":"{event.event_id}"}}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert again.content == first.content
    assert Order.objects.count() == 1


def test_same_key_with_another_body_is_409(manager, event):
    key = _key()
    assert _create_order(manager, event, key, "Ada").status_code == 201
    response = _create_order(manager, event, key, "Grace")
    assert_error(response, 409, "idempotency_key_reused")
    assert not orders_of_customer("Grace")


def test_same_key_on_another_endpoint_is_409(manager, event):
    key = _key()
    assert _create_order(manager, event, key).status_code == 201
    response = manager.post(
        f"{API}/events", {"event_id": "E-1"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert_error(response, 409, "idempotency_key_reused")


def test_keys_belong_to_their_user(users, event):
    key = _key()
    first = _create_order(key_client(users["Manager"])[0], event, key)
    second = _create_order(key_client(users["User"])[0], event, key)
    assert first.status_code == second.status_code == 201
    assert first.json()["order_ref"] != second.json()["order_ref"]
    assert Order.objects.count() == 2


def test_a_refused_request_is_not_stored_so_the_retry_runs(manager, event):
    key = _key()
    body = {"event": "LATER-1", "customer_name": "Ada"}
    response = manager.post(f"{API}/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert_error(response, 400, "invalid")
    assert not IdempotencyRecord.objects.exists()

    Event.objects.create(event_id="LATER-1")
    response = manager.post(f"{API}/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201


def test_a_key_is_forgotten_after_24_hours(manager, event, settings):
    key = _key()
    first = _create_order(manager, event, key)
    IdempotencyRecord.objects.update(created_at=first_time_minus(hours=25))
    again = _create_order(manager, event, key)
    assert again.status_code == 201
    assert again.json()["order_ref"] != first.json()["order_ref"]
    assert Order.objects.count() == 2

    IdempotencyRecord.objects.update(created_at=first_time_minus(hours=25))
    assert api_idempotency.purge_expired() == 1
    assert not IdempotencyRecord.objects.exists()


def first_time_minus(hours: int):
    from django.utils import timezone

    return timezone.now() - timedelta(hours=hours)


@pytest.mark.parametrize("key", ["", " ", "a b", "ü", "x" * 256])
def test_malformed_keys_are_400(manager, event, key):
    response = _create_order(manager, event, key)
    error = assert_error(response, 400, "invalid")
    assert "Idempotency-Key" in error["details"]
    assert not Order.objects.exists()


def test_without_a_key_every_post_creates(manager, event):
    _create_order_plain = [
        manager.post(f"{API}/orders", {"event": event.event_id, "customer_name": "Ada"})
        for _ in range(2)
    ]
    assert [r.status_code for r in _create_order_plain] == [201, 201]
    assert Order.objects.count() == 2


def test_image_upload_replay(users, make_order):
    client = key_client(users["User"])[0]
    order = make_order(users["User"])
    key = _key()
    url = f"{API}/orders/{order.order_ref}/images"
    first = client.post(url, {"file": photo()}, format="multipart", HTTP_IDEMPOTENCY_KEY=key)
    again = client.post(url, {"file": photo()}, format="multipart", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert Image.objects.filter(order=order).count() == 1

    other = client.post(
        url, {"file": photo("camera.png")}, format="multipart", HTTP_IDEMPOTENCY_KEY=key
    )
    assert_error(other, 409, "idempotency_key_reused")


def test_rejected_image_answer_is_replayed_too(users, make_order):
    """A 422 keeps the rejected image as a row: it was created, so it is replayed."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = key_client(users["User"])[0]
    order = make_order(users["User"])
    key = _key()
    url = f"{API}/orders/{order.order_ref}/images"

    def empty():
        return SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg")

    first = client.post(url, {"file": empty()}, format="multipart", HTTP_IDEMPOTENCY_KEY=key)
    again = client.post(url, {"file": empty()}, format="multipart", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == again.status_code == 422
    assert again.content == first.content
    assert Image.objects.filter(order=order).count() == 1


def test_event_create_replay(manager):
    key = _key()
    body = {"event_id": "WED-2026-1", "name": "Wedding"}
    first = manager.post(f"{API}/events", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = manager.post(f"{API}/events", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert Event.objects.filter(event_id="WED-2026-1").count() == 1


def test_replay_needs_the_permission_now(users, event):
    from accounts import services as account_services

    client = key_client(users["User"])[0]
    key = _key()
    assert _create_order(client, event, key).status_code == 201
    account_services.set_role(users["User"], "Viewer")
    assert_error(_create_order(client, event, key), 403, "permission_denied")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_create_one_object(users, event, monkeypatch):
    """Both requests start together; the first holds its transaction open a while. The
    second waits on the key's unique row, then replays the first answer."""
    _, raw = key_client(users["Manager"])
    key = _key()
    real_create = order_services.create_order
    entered = []

    def slow_create(**kwargs):
        order = real_create(**kwargs)
        entered.append(time.monotonic())
        time.sleep(0.5)  # the other request arrives while this transaction is open
        return order

    monkeypatch.setattr(order_services, "create_order", slow_create)
    barrier = threading.Barrier(2)
    responses: list = [None, None]

    def send(i: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        try:
            barrier.wait()
            responses[i] = _create_order(client, event, key)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(entered) == 1, "the second request must not run the create"
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].content == responses[1].content
    replayed = [r.has_header("Idempotent-Replayed") for r in responses]
    assert sorted(replayed) == [False, True]
    assert len(orders_of_customer("Ada")) == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_after_a_failed_first_runs_itself(users, event, monkeypatch):
    """If the first request fails (nothing created), the waiting duplicate is not stuck: it
    claims the key itself once the first transaction rolls back."""
    _, raw = key_client(users["Manager"])
    key = _key()
    real_create = order_services.create_order
    calls = []

    def flaky_create(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.5)
            raise order_services.OrderError("first attempt refused")
        return real_create(**kwargs)

    monkeypatch.setattr(order_services, "create_order", flaky_create)
    barrier = threading.Barrier(2)
    responses: list = [None, None]

    def send(i: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        try:
            barrier.wait()
            responses[i] = _create_order(client, event, key)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(r.status_code for r in responses) == [201, 409]
    assert Order.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
