"""Near-duplicates across an event's orders are flagged for review; other photos are not."""

from __future__ import annotations

import pytest
from PIL import Image as PILImage
from PIL import ImageEnhance

from events.models import Event
from orders.models import Image, Order
from tests.orders.intake import photos


@pytest.fixture
def first(order, upload) -> Image:
    image = upload(order, photos.jpeg(quality=92), "IMG_0420.jpg")
    assert image.status == Image.Status.INGESTED
    return image


@pytest.fixture
def other_order(manager, make_order, media_root) -> Order:
    """Another customer's order for the same event."""
    return make_order(manager, customer_name="Other Customer")


def _assert_flagged(image: Image, original: Image) -> None:
    assert image.status == Image.Status.NEEDS_REVIEW, image.status_reason
    assert image.duplicate_of_id == original.pk
    assert image.status_reason == f"Looks like IMG_0420.jpg in {original.order.order_ref}"
    assert image.metadata["near_duplicate"]["image"] == original.pk
    # The flagged image is still fully ingested: facts and renditions are there.
    assert image.preview.name
    assert image.thumbnail.name
    assert image.width


def test_blurred_reencoded_copy_in_another_order_is_flagged(first, other_order, upload):
    copy = upload(other_order, photos.blurred_copy(photos.jpeg(quality=92)), "copy.jpg")
    _assert_flagged(copy, first)
    other_order.refresh_from_db()
    assert (other_order.review_images, other_order.ingested_images) == (1, 1)
    # An image in review has passed ingest: the order goes on to processing.
    assert other_order.status == Order.Status.PROCESSING


@pytest.mark.parametrize(
    "turn",
    [
        pytest.param(PILImage.Transpose.ROTATE_90, id="90"),
        pytest.param(PILImage.Transpose.ROTATE_180, id="180"),
        pytest.param(PILImage.Transpose.ROTATE_270, id="270"),
    ],
)
def test_turned_copy_is_flagged(first, other_order, upload, turn):
    copy = upload(other_order, photos.turned_copy(photos.jpeg(quality=92), turn), "turned.jpg")
    _assert_flagged(copy, first)


def test_same_bytes_in_another_order_of_the_event_is_flagged(first, other_order, upload):
    copy = upload(other_order, photos.jpeg(quality=92), "IMG_0420.jpg")
    _assert_flagged(copy, first)
    assert copy.sha256 == first.sha256


def test_near_duplicate_in_the_same_order_is_flagged(first, order, upload):
    copy = upload(order, photos.blurred_copy(photos.jpeg(quality=92)), "again.jpg")
    _assert_flagged(copy, first)


def test_different_photos_are_not_flagged(first, other_order, upload):
    for name in ("chelsea.png", "astronaut.png", "rocket.jpg", "camera.png"):
        image = upload(other_order, photos.jpeg(photos.photo(name)), name)
        assert image.status == Image.Status.INGESTED, (name, image.status_reason)
        assert image.duplicate_of_id is None


def test_mirrored_photo_is_not_a_turned_copy(first, other_order, upload):
    mirrored = photos.turned_copy(photos.jpeg(), PILImage.Transpose.FLIP_LEFT_RIGHT)
    assert upload(other_order, mirrored, "mirror.jpg").status == Image.Status.INGESTED


def test_same_photo_in_another_event_is_not_flagged(first, manager, upload):
    from orders import services

    elsewhere = services.create_order(
        actor=manager,
        event=Event.objects.create(event_id="EVT-OTHER", name="Another shoot"),
        customer_name="Someone",
    )
    image = upload(elsewhere, photos.blurred_copy(photos.jpeg(quality=92)), "copy.jpg")
    assert image.status == Image.Status.INGESTED


def test_rejected_images_are_not_duplicate_sources(order, other_order, upload, settings):
    settings.INGEST_MAX_PIXELS = 100_000
    refused = upload(order, photos.jpeg(), "big.jpg")
    assert refused.status == Image.Status.REJECTED
    settings.INGEST_MAX_PIXELS = 120_000_000
    assert upload(other_order, photos.jpeg(), "again.jpg").status == Image.Status.INGESTED


@pytest.mark.parametrize(("threshold", "status"), [(3, "ingested"), (4, "needs_review")])
def test_threshold_comes_from_settings(first, other_order, upload, settings, threshold, status):
    # More contrast moves 4 of the 64 bits (measured; blur and re-encoding move none).
    punchier = photos.jpeg(ImageEnhance.Contrast(photos.photo()).enhance(1.5))
    settings.NEAR_DUPLICATE_DISTANCE = threshold
    assert upload(other_order, punchier, "punchier.jpg").status == status
