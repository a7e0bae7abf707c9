"""An API client's order does not close while it is still uploading (issue 11, item 8).

Orders made through the API wait in ``pending`` for ``POST …/submit`` (or for as many files
as ``expected_images`` announced), however long the client takes between two files; the
pages' orders are held by their open uploads as before. Ingest runs here as the worker
would (the service, after the upload's commit).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from orders import intake, pipeline, sweep
from orders.models import Image, Order, OrderEvent

from .conftest import API, assert_error, photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload(client_as, django_capture_on_commit_callbacks, monkeypatch):
    """``upload(client, ref, name)``: POST one file, then ingest it as the worker would."""
    from orders import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.ingest_image, "delay", queued.append)

    def _upload(client, ref: str, name: str) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"{API}/orders/{ref}/images", {"file": photo(name)}, format="multipart"
            )
        assert response.status_code == 201, response.json()
        while queued:
            with django_capture_on_commit_callbacks(execute=True):
                intake.ingest_image(queued.pop())
        return response.json()

    return _upload


def _create(client, event, **extra) -> dict:
    response = client.post(
        f"{API}/orders", {"event": event.event_id, "customer_name": "Ada", **extra}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def _status(ref: str) -> str:
    return Order.objects.get(order_ref=ref).status


def test_a_slow_uploader_keeps_its_order_open_until_it_submits(client_as, event, upload):
    client = client_as("User")
    order = _create(client, event)
    assert order["awaiting_submit"] is True
    assert order["submitted_at"] is None

    for name in ("rocket.jpg", "coffee.png", "chelsea.png"):
        upload(client, order["order_ref"], name)  # each is ingested before the next arrives
        assert _status(order["order_ref"]) == Order.Status.PENDING

    response = client.post(f"{API}/orders/{order['order_ref']}/submit")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["submitted_at"] is not None
    assert body["status"] == Order.Status.PROCESSING
    submitted = OrderEvent.objects.get(
        order__order_ref=order["order_ref"], kind=OrderEvent.Kind.ORDER_SUBMITTED
    )
    assert submitted.payload["images"] == 3
    # Submitting again changes nothing.
    again = client.post(f"{API}/orders/{order['order_ref']}/submit")
    assert again.status_code == 200
    assert again.json()["submitted_at"] == body["submitted_at"]


def test_submit_before_the_last_ingest_starts_the_order_when_it_is_done(
    client_as, event, upload, django_capture_on_commit_callbacks, monkeypatch
):
    client = client_as("User")
    order = _create(client, event)
    ref = order["order_ref"]
    upload(client, ref, "rocket.jpg")
    from orders import tasks

    later: list[int] = []
    monkeypatch.setattr(tasks.ingest_image, "delay", later.append)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{API}/orders/{ref}/images", {"file": photo("coffee.png")}, format="multipart")
    assert client.post(f"{API}/orders/{ref}/submit").json()["status"] == Order.Status.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        intake.ingest_image(later.pop())
    assert _status(ref) == Order.Status.PROCESSING


def test_an_order_that_announced_its_files_starts_when_they_are_in(client_as, event, upload):
    client = client_as("User")
    order = _create(client, event, expected_images=2)
    assert order["expected_images"] == 2
    upload(client, order["order_ref"], "rocket.jpg")
    assert _status(order["order_ref"]) == Order.Status.PENDING
    upload(client, order["order_ref"], "coffee.png")
    assert _status(order["order_ref"]) == Order.Status.PROCESSING


def test_expected_images_is_checked_and_fixed_after_creation(client_as, event):
    client = client_as("User")
    for bad in (0, -1, "many", 100_001):
        response = client.post(
            f"{API}/orders",
            {"event": event.event_id, "customer_name": "A", "expected_images": bad},
            format="json",
        )
        assert_error(response, 400, "invalid")
    order = _create(client, event, expected_images=3)
    change = client.patch(
        f"{API}/orders/{order['order_ref']}", {"expected_images": 5}, format="json"
    )
    assert_error(change, 400, "invalid")


def test_submit_of_a_closed_order_is_409(client_as, users, make_order):
    order = make_order(users["User"])
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
    response = client_as("User").post(f"{API}/orders/{order.order_ref}/submit")
    assert_error(response, 409, "conflict")


def test_orders_of_the_pages_do_not_wait_for_a_submit(users, make_order):
    order = make_order(users["User"])
    assert order.awaiting_submit is False
    assert not pipeline.files_still_coming(order)


def test_staff_are_told_when_an_api_client_goes_quiet(client_as, event, upload, settings):
    settings.ORDER_SUBMIT_IDLE_HOURS = 1
    client = client_as("User")
    order = _create(client, event)
    upload(client, order["order_ref"], "rocket.jpg")
    assert sweep.flag_overdue_submits() == 0  # news a moment ago
    OrderEvent.objects.filter(order__order_ref=order["order_ref"]).update(
        created_at=timezone.now() - dt.timedelta(hours=2)
    )

    assert sweep.flag_overdue_submits() == 1
    assert sweep.flag_overdue_submits() == 0  # told once
    overdue = OrderEvent.objects.get(
        order__order_ref=order["order_ref"], kind=OrderEvent.Kind.ORDER_SUBMIT_OVERDUE
    )
    assert "Submit the order if it is complete" in overdue.payload["reason"]
    assert _status(order["order_ref"]) == Order.Status.PENDING  # staff decide, not the sweep
    assert Image.objects.filter(order__order_ref=order["order_ref"]).count() == 1


def test_the_order_page_says_it_waits_and_staff_can_start_it(
    client_as, event, upload, users, client
):
    api = client_as("User")
    order = _create(api, event)
    upload(api, order["order_ref"], "rocket.jpg")
    client.force_login(users["Manager"])
    page = client.get(f"/orders/{order['order_ref']}/").content.decode()
    assert 'data-testid="held-submit"' in page
    response = client.post(f"/orders/{order['order_ref']}/submit/", follow=True)
    assert "starts once its files are checked" in response.content.decode()
    assert _status(order["order_ref"]) == Order.Status.PROCESSING
    admin = client.post(
        "/admin/orders/order/",
        {
            "action": "submit_orders",
            "_selected_action": [Order.objects.get(order_ref=order["order_ref"]).pk],
        },
        follow=True,
    )
    assert "1 order(s) submitted" in admin.content.decode()
