"""Counters, timeline numbers and order references under real concurrent transactions.

These tests commit for real (``transactional_db``) and run the services from
several threads at once, each on its own PostgreSQL connection.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pytest
from django.db import connection

from accounts.roles import MANAGER
from orders import services
from orders.models import Image, Order, OrderEvent
from tests.conftest import make_user

THREADS = 8
IMAGES = 40


def run_in_threads(work: Callable[[int], object], count: int = THREADS) -> list:
    """Run ``work(i)`` in ``count`` threads released together; re-raise any error."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    if errors:
        raise errors[0]
    return results


def assert_timeline_gapless(order: Order) -> list[int]:
    seqs = list(
        OrderEvent.objects.filter(order=order).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))
    assert Order.objects.get(pk=order.pk).last_event_seq == len(seqs)
    return seqs


@pytest.mark.django_db(transaction=True)
def test_concurrent_image_moves_keep_counters_and_timeline_exact(event, make_order, make_image):
    order = make_order(make_user(MANAGER))
    images = [make_image(order) for _ in range(IMAGES)]
    S = Image.Status
    # Each image walks its own path; several threads hit the same order at once.
    paths = [
        [S.INGESTED, S.PROCESSED, S.SYNCED],
        [S.INGESTED, S.NEEDS_REVIEW],
        [S.REJECTED],
        [S.FAILED, S.UPLOADED, S.INGESTED, S.ANALYZED, S.PROCESSED],
        [S.INGESTED, S.FAILED],
    ]
    plan = {image.pk: paths[i % len(paths)] for i, image in enumerate(images)}

    def work(i: int) -> int:
        moved = 0
        for image in images[i::THREADS]:
            for status in plan[image.pk]:
                services.change_image_status(Image.objects.get(pk=image.pk), status)
                moved += 1
        return moved

    moves = sum(run_in_threads(work))

    assert moves == sum(len(p) for p in plan.values())
    final = dict(Image.objects.filter(order=order).values_list("pk", "status"))
    assert final == {pk: steps[-1] for pk, steps in plan.items()}
    statuses = list(final.values())
    order.refresh_from_db()
    assert order.total_images == IMAGES
    assert order.ingested_images == sum(s in Image.PAST_INGEST for s in statuses)
    assert order.processed_images == sum(s in (S.PROCESSED, S.SYNCED) for s in statuses)
    assert order.synced_images == statuses.count(S.SYNCED)
    assert order.rejected_images == statuses.count(S.REJECTED)
    assert order.failed_images == statuses.count(S.FAILED)
    assert order.review_images == statuses.count(S.NEEDS_REVIEW)
    seqs = assert_timeline_gapless(order)
    assert len(seqs) == 1 + moves  # order.created + one entry per move


@pytest.mark.django_db(transaction=True)
def test_concurrent_order_creation_gives_distinct_references(event):
    creator = make_user(MANAGER)
    per_thread = 3

    def work(i: int) -> list[str]:
        return [
            services.create_order(actor=creator, event=event, customer_name=f"C{i}-{n}").order_ref
            for n in range(per_thread)
        ]

    refs = [ref for batch in run_in_threads(work) for ref in batch]

    assert len(refs) == THREADS * per_thread
    assert len(set(refs)) == len(refs)
    assert all(re.fullmatch(r"ORD-\d{4}-\d{6}", ref) for ref in refs)
    numbers = sorted(int(ref.rsplit("-", 1)[1]) for ref in refs)
    assert numbers == list(range(1, len(refs) + 1))  # no gaps either: nothing rolled back
    assert Order.objects.count() == len(refs)
    for order in Order.objects.all():
        assert list(order.timeline.values_list("seq", flat=True)) == [1]


@pytest.mark.django_db(transaction=True)
def test_concurrent_timeline_writes_on_one_order_are_gapless(event, make_order):
    order = make_order(make_user(MANAGER))

    def work(i: int) -> None:
        for n in range(5):
            services.record_event(order, "test.note", {"thread": i, "n": n})

    run_in_threads(work)

    seqs = assert_timeline_gapless(order)
    assert len(seqs) == 1 + THREADS * 5
