"""Nothing silently short (issue 11, items 2 and 3): an outage is retried, never the image's
fault; a failed image stops its order where people see it; only a person delivers short.

Real PostgreSQL and Redis, the local provider; the outage is a Redis address nobody answers
(the outside edge), the failure a provider chain that breaks.
"""

from __future__ import annotations

import pytest
import redis
from django.core.exceptions import PermissionDenied

from accounts.roles import USER
from ai_processing import services, tasks
from ai_processing.timeline import AI_COMPLETED
from orders import pipeline
from orders import services as order_services
from orders.models import Image, Order, OrderEvent
from pmr.models import OutboxEntry
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.conftest import make_user
from tests.timeline_checks import assert_timeline_reads_well
from utilities import breakers
from utilities.circuit_breaker import CircuitBreaker
from utilities.errors import OrderError
from utilities.redis_clients import client_for

S = Image.Status
Kind = OrderEvent.Kind
pytestmark = pytest.mark.django_db
DEAD_REDIS = "redis://127.0.0.1:9/0"  # port 9: connection refused at once


def _one_failed_one_processed(ingested_order, monkeypatch) -> tuple[Order, Image, Image]:
    order = ingested_order("colour-correct-only", n=2)
    good, bad = order.images.order_by("pk")
    assert services.process_image(good.pk).status == S.PROCESSED

    def broken():
        raise RuntimeError("kaput")  # a bug, not an outage

    with monkeypatch.context() as patch:
        patch.setattr(services, "_chain", broken)
        assert services.process_image(bad.pk).status == S.FAILED
    order.refresh_from_db()
    return order, good, bad


# --- item 2: an outage is not the image's fault --------------------------------------------


def test_redis_away_inside_the_ai_step_retries_instead_of_failing_the_image(
    ingested_order, monkeypatch
):
    """The lease is taken; then the breaker, the slots and the cache meet a Redis that is
    gone (a restart): the step raises for the task to retry; the image waits, unharmed."""
    order = ingested_order("colour-correct-only")
    image = order.images.get()
    dead = CircuitBreaker(client_for(DEAD_REDIS))  # its client: the chain's cache and slots too
    real = breakers.ai_breaker
    monkeypatch.setattr(breakers, "ai_breaker", lambda **kw: dead)

    with pytest.raises(redis.exceptions.ConnectionError):
        services.process_image(image.pk)

    image.refresh_from_db()
    assert image.status == S.INGESTED
    assert "failure" not in image.ai_metadata
    assert Order.objects.get(pk=order.pk).failed_images == 0
    monkeypatch.setattr(breakers, "ai_breaker", real)  # Redis is back: the retry goes through
    assert services.process_image(image.pk).status == S.PROCESSED


def test_the_tasks_retry_outages_of_redis_the_broker_and_the_database():
    from django.db import OperationalError
    from kombu.exceptions import OperationalError as BrokerError

    from orders.tasks import ingest_image
    from pmr.tasks import drain_order

    for task in (tasks.process_image, tasks.process_order, ingest_image, drain_order):
        for error in (redis.exceptions.ConnectionError, BrokerError, OperationalError):
            assert issubclass(error, task.autoretry_for), (task.name, error)


# --- item 3: failed is not done --------------------------------------------------------------


def test_a_failed_image_stops_the_order_in_review_and_nothing_is_delivered(
    ingested_order, monkeypatch
):
    order, _good, bad = _one_failed_one_processed(ingested_order, monkeypatch)

    assert order.status == Order.Status.NEEDS_REVIEW
    assert not order.ai_processed
    assert bad.original_filename in order_services.failed_images_reason([bad])
    stopped = OrderEvent.objects.get(order=order, kind=Kind.ORDER_STOPPED_SHORT)
    assert stopped.payload["status"] == Order.Status.NEEDS_REVIEW
    assert [f["image"] for f in stopped.payload["failed"]] == [bad.pk]
    assert bad.original_filename in stopped.payload["reason"]
    moved = OrderEvent.objects.filter(order=order, kind=Kind.ORDER_STATUS).last()
    assert moved.payload["to"] == Order.Status.NEEDS_REVIEW
    assert "1 image failed" in moved.payload["reason"]
    assert not OrderEvent.objects.filter(order=order, kind=AI_COMPLETED).exists()
    assert not OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.IMAGE_PUT).exists()


def test_a_retried_failed_image_lets_the_order_complete_its_ai_step(
    ingested_order, monkeypatch, manager
):
    order, _good, bad = _one_failed_one_processed(ingested_order, monkeypatch)

    # The parallel helper's "Retry failed images" calls the redo service: it retries.
    services.redo_image(bad, actor=manager)
    assert Image.objects.get(pk=bad.pk).status == S.INGESTED
    assert services.process_image(bad.pk).status == S.PROCESSED

    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert order.ai_processed
    # One upload per file; an image counts by its original (the edited file is another file).
    rows = OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.IMAGE_PUT)
    assert rows.filter(payload__variant="original").count() == 2
    metadata = OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.ORDER_PUT).last()
    assert metadata.payload["expected_image_count"] == 2


def test_a_manager_delivers_without_the_failed_images(ingested_order, monkeypatch, manager):
    order, good, bad = _one_failed_one_processed(ingested_order, monkeypatch)

    pipeline.deliver_without_failed(order, manager, note="customer agreed")

    bad.refresh_from_db()
    assert bad.status == S.REJECTED
    assert bad.status_reason.startswith(f"Left out of the delivery by {manager.username}")
    decided = OrderEvent.objects.get(order=order, kind=Kind.ORDER_PARTIAL_DELIVERY)
    assert decided.actor == manager
    assert decided.payload["left_out"] == [{"image": bad.pk, "filename": bad.original_filename}]
    assert decided.payload["note"] == "customer agreed"
    order.refresh_from_db()
    assert order.ai_processed
    assert order.status == Order.Status.PROCESSING  # the PMR step completes it
    uploads = OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.IMAGE_PUT)
    assert set(uploads.values_list("image_id", flat=True)) == {good.pk}  # its files only
    metadata = OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.ORDER_PUT).last()
    assert metadata.payload["expected_image_count"] == 1  # the PMR is told what to expect
    assert {Kind.ORDER_STOPPED_SHORT, Kind.ORDER_PARTIAL_DELIVERY} <= assert_timeline_reads_well(
        order
    )


def test_only_a_reviewer_decides_a_short_delivery_and_only_when_something_failed(
    ingested_order, monkeypatch, manager
):
    order, _good, bad = _one_failed_one_processed(ingested_order, monkeypatch)
    owner = make_user(USER)
    Order.objects.filter(pk=order.pk).update(created_by=owner)
    with pytest.raises(PermissionDenied):
        pipeline.deliver_without_failed(order, owner)
    with pytest.raises(PermissionDenied):
        pipeline.deliver_without_failed(order, None)
    assert Image.objects.get(pk=bad.pk).status == S.FAILED

    pipeline.deliver_without_failed(order, manager)
    with pytest.raises(OrderError, match="no failed images"):
        pipeline.deliver_without_failed(order, manager)


def test_a_retried_image_that_fails_again_is_announced_again(ingested_order, monkeypatch, manager):
    order, _good, bad = _one_failed_one_processed(ingested_order, monkeypatch)
    services.retry_failed_image(bad, actor=manager)
    assert Order.objects.get(pk=order.pk).status == Order.Status.NEEDS_REVIEW

    services._fail(bad.pk, "AI processing failed because of an internal error (X).")

    stopped = OrderEvent.objects.filter(order=order, kind=Kind.ORDER_STOPPED_SHORT)
    assert stopped.count() == 2
    assert [f["image"] for f in stopped.last().payload["failed"]] == [bad.pk]
