"""Ingest of one order's images from several workers at once, on real committed transactions."""

from __future__ import annotations

import hashlib
import threading

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from PIL import Image as PILImage

from orders import intake, services
from orders.models import Image, Order, OrderEvent
from tests.orders.intake import photos

THREADS = 4


def _twelve_different_photos() -> list[bytes]:
    """Twelve photos no two of which are near-duplicates (measured: >= 18 of 64 bits apart)."""
    names = ["coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg", "camera.png"]
    files = []
    for name in names:
        image = photos.photo(name)
        files.append(photos.jpeg(image))
        files.append(photos.jpeg(image.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)))
    coffee, astronaut = photos.photo("coffee.png"), photos.photo("astronaut.png")
    files.append(photos.jpeg(coffee.crop((0, 0, 300, 400))))
    files.append(photos.jpeg(astronaut.crop((0, 256, 512, 512))))
    return files


def _stored_image(order: Order, data: bytes, name: str) -> Image:
    """An uploaded image as ``add_image`` leaves it, without queueing a Celery task."""
    return Image.objects.create(
        order=order,
        original=ContentFile(data, name=name),
        original_filename=name,
        file_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


@pytest.mark.django_db(transaction=True)
def test_parallel_ingest_keeps_counters_and_moves_the_order_once(manager, make_order, media_root):
    order = make_order(manager)
    files = _twelve_different_photos()
    images = [_stored_image(order, data, f"IMG_{i:04d}.jpg") for i, data in enumerate(files)]
    images.append(_stored_image(order, b"<html>not a photo</html>", "page.jpg"))
    services.refresh_image_counters(order.pk)
    services.change_order_status(order, Order.Status.PENDING, reason="images arriving")

    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for image in images[index::THREADS]:
                intake.ingest_image(image.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "an ingest thread hung"
    assert not errors, errors

    statuses = list(Image.objects.filter(order=order).values_list("status", flat=True))
    assert statuses.count(Image.Status.INGESTED) == 12
    assert statuses.count(Image.Status.REJECTED) == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert (order.total_images, order.ingested_images, order.rejected_images) == (13, 12, 1)
    assert (order.failed_images, order.review_images) == (0, 0)
    moves = OrderEvent.objects.filter(
        order=order, kind=OrderEvent.Kind.ORDER_STATUS, payload__to=Order.Status.PROCESSING
    )
    assert moves.count() == 1
    # The timeline stayed gapless under the concurrent writers.
    seqs = list(OrderEvent.objects.filter(order=order).values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, len(seqs) + 1)) == list(range(1, order.last_event_seq + 1))


@pytest.mark.django_db(transaction=True)
def test_two_copies_ingested_at_once_are_still_caught(manager, make_order, media_root):
    """The per-event lock: of two near-duplicates finishing together, one is flagged."""
    first_order, second_order = make_order(manager), make_order(manager)
    data = photos.jpeg()
    copies = [
        _stored_image(first_order, data, "a.jpg"),
        _stored_image(second_order, photos.blurred_copy(data), "b.jpg"),
    ]
    barrier = threading.Barrier(2)

    def work(image: Image) -> None:
        try:
            barrier.wait(timeout=30)
            intake.ingest_image(image.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(image,)) for image in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(Image.objects.filter(pk__in=[i.pk for i in copies]).values_list("status"))
    assert statuses == [(Image.Status.INGESTED,), (Image.Status.NEEDS_REVIEW,)]
