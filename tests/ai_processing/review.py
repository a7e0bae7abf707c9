"""Helpers for the review queue tests: images put in review the ways the product does it.

Images reach the queue through the real services only: ingest flags a near-duplicate
(``orders.intake``), the AI pipeline gives up when no provider is configured
(``ai_processing.services.process_image``). The test modules import the ``*_fixture``
functions, which register the fixtures under their plain names.
"""

from __future__ import annotations

import io
import itertools

import pytest

from ai_processing import services
from events.models import Event
from orders import intake
from orders import services as order_services
from orders.models import Image, Order
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    different_photos,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.orders.intake import photos

S = Image.Status
_events = itertools.count(1)


def give_up(image_ids: list[int], settings) -> None:
    """Run the AI step with no provider at all: each image goes to review, as in an outage."""
    settings.AI_PROVIDERS = []
    try:
        for image_id in image_ids:
            result = services.process_image(image_id)
            assert result.status == S.NEEDS_REVIEW, result.status_reason
    finally:
        settings.AI_PROVIDERS = ["local"]


@pytest.fixture(name="in_review")
def in_review_fixture(ingested_order, settings):
    """``in_review(slug)``: an order whose one image no provider could edit; it waits for review."""

    def _make(slug: str = "colour-correct-only") -> Image:
        order = ingested_order(slug)
        image = order.images.get()
        give_up([image.pk], settings)
        return Image.objects.select_related("order").get(pk=image.pk)

    return _make


@pytest.fixture(name="many_in_review")
def many_in_review_fixture(manager, ai_settings, settings):
    """``many_in_review(n)``: one order whose ``n`` images all wait for review (order in review).

    Each call makes its order for an event of its own, so that the same test photos in two
    calls are not near-duplicates of each other.
    """

    def _make(n: int, slug: str = "colour-correct-only") -> list[Image]:
        event = Event.objects.create(event_id=f"EVT-R{next(_events):04d}", name="Review test")
        order = order_services.create_order(
            actor=manager, event=event, customer_name="Review Customer", preset=preset(slug)
        )
        for i, data in enumerate(different_photos(n)):
            image = intake.add_image(
                order, source=io.BytesIO(data), filename=f"IMG_{i:04d}.jpg", actor=manager
            )
            assert intake.ingest_image(image.pk).status == S.INGESTED
        ids = list(order.images.order_by("pk").values_list("pk", flat=True))
        give_up(ids, settings)
        order.refresh_from_db()
        assert order.status == Order.Status.NEEDS_REVIEW
        return list(Image.objects.filter(pk__in=ids).select_related("order").order_by("pk"))

    return _make


def camera_photo(name: str = "rocket.jpg") -> bytes:
    """A JPEG with the EXIF a studio camera writes (capture time 15 Jun 2024, 14:03)."""
    return photos.jpeg(photos.photo(name), quality=92, exif=photos.camera_exif())


@pytest.fixture(name="near_duplicate")
def near_duplicate_fixture(manager, make_order, ai_settings):
    """``near_duplicate()``: (copy, original): the copy, in a second order of the same event,
    flagged at ingest as a near-duplicate of the original and waiting for review."""

    def _make(*, same_order: bool = False) -> tuple[Image, Image]:
        first = make_order(manager, customer_name="First Customer")
        original = intake.add_image(
            first, source=io.BytesIO(camera_photo()), filename="IMG_0420.jpg", actor=manager
        )
        original = intake.ingest_image(original.pk)
        assert original.status == S.INGESTED
        second = first if same_order else make_order(manager, customer_name="Second Customer")
        copy = intake.add_image(
            second,
            source=io.BytesIO(photos.blurred_copy(camera_photo())),
            filename="copy_of_0420.jpg",
            actor=manager,
        )
        copy = intake.ingest_image(copy.pk)
        assert copy.status == S.NEEDS_REVIEW, copy.status_reason
        assert copy.duplicate_of_id == original.pk
        return (
            Image.objects.select_related("order").get(pk=copy.pk),
            Image.objects.select_related("order").get(pk=original.pk),
        )

    return _make
