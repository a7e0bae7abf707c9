"""Images of one order processed by parallel workers: the order settles exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from ai_processing import services
from ai_processing.timeline import AI_COMPLETED
from orders.models import Image, Order, OrderEvent
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
)

S = Image.Status
THREADS = 4
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Commits here are real: keep their task messages out of the broker."""
    from ai_processing import tasks
    from orders import tasks as order_tasks

    for task in (tasks.process_order, tasks.process_image, order_tasks.ingest_image):
        monkeypatch.setattr(task, "delay", lambda *args, **kwargs: None)


def _process_in_threads(order: Order) -> None:
    ids = list(order.images.values_list("pk", flat=True))
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for image_id in ids[index::THREADS]:
                services.process_image(image_id)
            # A second delivery of every task, racing the first ones.
            for image_id in ids[::-1][index::THREADS]:
                services.process_image(image_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    assert not errors, errors


def _gapless(order: Order) -> None:
    order.refresh_from_db()
    seqs = list(OrderEvent.objects.filter(order=order).values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, order.last_event_seq + 1))


def test_parallel_processing_completes_the_order_once(ingested_order):
    order = ingested_order("colour-correct-only", n=8)
    _process_in_threads(order)

    statuses = list(order.images.values_list("status", flat=True))
    assert statuses == [S.PROCESSED] * 8
    assert all(image.processed.name for image in order.images.all())
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert order.ai_processed
    assert (order.processed_images, order.review_images) == (8, 0)
    assert OrderEvent.objects.filter(order=order, kind=AI_COMPLETED).count() == 1
    for image in order.images.all():
        moves = OrderEvent.objects.filter(
            order=order, kind=OrderEvent.Kind.IMAGE_STATUS, payload__image=image.pk
        )
        assert moves.filter(payload__to=S.PROCESSED).count() == 1
    _gapless(order)


def test_parallel_processing_sends_the_order_to_review_once(ingested_order):
    order = ingested_order("natural-retouch", n=6)
    _process_in_threads(order)

    assert list(order.images.values_list("status", flat=True)) == [S.NEEDS_REVIEW] * 6
    order.refresh_from_db()
    assert order.status == Order.Status.NEEDS_REVIEW
    assert not order.ai_processed
    assert order.review_images == 6
    to_review = OrderEvent.objects.filter(
        order=order, kind=OrderEvent.Kind.ORDER_STATUS, payload__to=Order.Status.NEEDS_REVIEW
    )
    assert to_review.count() == 1
    assert not OrderEvent.objects.filter(order=order, kind=AI_COMPLETED).exists()
    _gapless(order)
