"""Fixtures of the PMR integration tests: a simulator the settings point at, events it knows,
orders whose AI work is done (PROCESSED images with small real JPEGs), a clean circuit/cache."""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterator

import pytest
import redis
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image as PILImage

from accounts.roles import MANAGER
from orders.models import Image, Order
from pmr import outbox
from pmr.models import OutboxEntry
from pmr.simulator import PMRSimulator
from tests.conftest import make_user

_counter = itertools.count(1)


def jpeg(index: int, size=(48, 32)) -> bytes:
    """A small real JPEG, different for every ``index``."""
    buffer = io.BytesIO()
    colour = (index * 37 % 256, index * 91 % 256, index * 53 % 256)
    picture = PILImage.new("RGB", size, colour)
    picture.putpixel((index % size[0], index // size[0] % size[1]), (255 - colour[0], 0, 0))
    picture.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def clean_pmr_redis(redis_url: str) -> None:
    """Forget the PMR circuit, drain leases/schedules and cached PMR answers of earlier tests."""
    client = redis.Redis.from_url(redis_url)
    keys = [*client.scan_iter("rkh:pmr:*"), *client.scan_iter("rkh-test:*:pmr:*")]
    if keys:
        client.delete(*keys)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture
def sim(settings) -> Iterator[PMRSimulator]:
    """The PMR simulator, in this process; the settings (not a worker's) point at it."""
    clean_pmr_redis(settings.REDIS_URL)
    with PMRSimulator(port=0) as simulator:
        settings.PMR_BASE_URL = simulator.base_url
        settings.PMR_RETRY_BASE_SECONDS = 0.01
        settings.PMR_CLIENT_ATTEMPTS = 1
        yield simulator
    clean_pmr_redis(settings.REDIS_URL)


@pytest.fixture
def pmr_event(sim, event):
    """The test's event, open in the PMR too."""
    sim.add_events([{"event_id": event.event_id, "name": event.name, "status": "open"}], [])
    return event


@pytest.fixture
def manager(db):
    return make_user(MANAGER)


def add_processed_images(order: Order, n: int, *, size=(48, 32)) -> list[Image]:
    """``n`` images whose AI work is done: a real JPEG original and processed rendition."""
    images = []
    for _ in range(n):
        index = next(_counter)
        original, processed = jpeg(index, size), jpeg(index + 100_000, size)
        images.append(
            Image.objects.create(
                order=order,
                original=ContentFile(original, name=f"IMG_{index:05d}.jpg"),
                processed=ContentFile(processed, name=f"IMG_{index:05d}-processed.jpg"),
                original_filename=f"IMG_{index:05d}.jpg",
                file_size=len(original),
                mime_type="image/jpeg",
                sha256=hashlib.sha256(original).hexdigest(),
                width=size[0],
                height=size[1],
                status=Image.Status.PROCESSED,
                ai_metadata={"caption": {"caption": f"Photo {index}", "keywords": ["a", "b"]}},
            )
        )
    return images


@pytest.fixture
def ai_done_order(manager, make_order, media_root):
    """``ai_done_order(n)``: an order in processing with ``n`` PROCESSED images, AI done;
    ``deliver=True`` also writes its delivery into the outbox as the pipeline does
    (the drain message goes out at the commit only in transactional tests)."""

    def _make(n: int, *, deliver: bool = True, owner=None) -> Order:
        order = make_order(owner or manager)
        add_processed_images(order, n)
        Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING, ai_processed=True)
        order.refresh_from_db()
        if deliver:
            with transaction.atomic():
                outbox.deliver(order)
        return order

    return _make


def rows(order: Order, **filters):
    return OutboxEntry.objects.filter(order=order, **filters).order_by("id")


def remote_order(sim: PMRSimulator, order: Order) -> dict | None:
    state = sim.state()
    return next((o for o in state["orders"] if o["order_ref"] == order.order_ref), None)
