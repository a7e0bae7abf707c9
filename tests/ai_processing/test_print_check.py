"""The DPI check (issue 16): an image whose crop for an ordered print size falls short of
``PRINT_MIN_DPI`` goes to review with the reason, as the AI step settles it and again before
the order is handed to the PMR; a reviewer's approval of that shortfall holds.

Real pipeline: photos ingested through ``orders.intake``, the AI step run by
``ai_processing.services.process_image`` with the local provider.
"""

from __future__ import annotations

import pytest

from ai_processing import services
from orders import crops, print_services
from orders.models import Image, Order, OrderEvent
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
)

pytestmark = pytest.mark.django_db

S = Image.Status


def _expected(image: Image, short_in: float, long_in: float, dpi: int) -> str:
    """The sentence, worked out from the ingested size (the largest crop of the print's
    aspect, turned like the photo)."""
    inches = crops.print_inches(short_in, long_in, image.width, image.height)
    aspect = inches[0] / inches[1]
    if image.width / image.height > aspect:
        w, h = round(image.height * aspect), image.height
    else:
        w, h = image.width, round(image.width / aspect)
    got = crops.effective_dpi(w, h, *inches)
    need = crops.pixels_needed(*inches, dpi)
    label = f"{short_in}×{long_in}"
    return (
        f"{label} needs {need[0]}×{need[1]} pixels at {dpi} DPI; this crop has {w}×{h} ({got} DPI)."
    )


def test_short_crop_goes_to_review_and_an_approval_holds(ingested_order, manager, settings):
    settings.PRINT_MIN_DPI = 300
    order = ingested_order("analyze-only")
    print_services.set_order_prints(order, [{"size": "8x10", "quantity": 1}], actor=manager)
    image = order.images.get()
    done = services.process_image(image.pk)
    assert done.status == S.NEEDS_REVIEW
    assert done.review_reason == Image.ReviewReason.PRINT_SIZE
    assert done.status_reason == _expected(done, 8, 10, 300)
    order.refresh_from_db()
    assert order.status == Order.Status.NEEDS_REVIEW
    assert not order.ai_processed

    services.approve_image(done, manager)
    done.refresh_from_db()
    order.refresh_from_db()
    assert done.status == S.PROCESSED  # the approval is not undone by the check at hand-off
    assert order.ai_processed
    assert order.status == Order.Status.PROCESSING


def test_an_image_that_prints_well_is_processed(ingested_order, manager, settings):
    order = ingested_order("analyze-only")
    image = order.images.get()
    settings.PRINT_MIN_DPI = 40  # the test photos are small: 40 DPI is what they give at 8×10
    print_services.set_order_prints(order, [{"size": "8x10", "quantity": 1}], actor=manager)
    done = services.process_image(image.pk)
    assert done.status == S.PROCESSED, done.status_reason
    order.refresh_from_db()
    assert order.ai_processed


def test_no_prints_ordered_means_no_check(ingested_order, settings):
    settings.PRINT_MIN_DPI = 2400
    order = ingested_order("analyze-only")
    done = services.process_image(order.images.get().pk)
    assert done.status == S.PROCESSED


def test_lines_changed_after_an_image_settled_are_checked_before_hand_off(
    ingested_order, manager, settings
):
    settings.PRINT_MIN_DPI = 45
    order = ingested_order("analyze-only", n=2)
    first, second = order.images.order_by("pk")
    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 1}], actor=manager)
    assert services.process_image(first.pk).status == S.PROCESSED
    # The customer changes to a bigger print before the order is done.
    print_services.set_order_prints(order, [{"size": "11x14", "quantity": 1}], actor=manager)
    second = services.process_image(second.pk)
    assert second.status == S.NEEDS_REVIEW
    assert second.review_reason == Image.ReviewReason.PRINT_SIZE
    services.approve_image(second, manager)  # accepted as it is; now the order would go
    first.refresh_from_db()
    order.refresh_from_db()
    assert first.status == S.NEEDS_REVIEW, "the gate before hand-off missed the new size"
    assert first.review_reason == Image.ReviewReason.PRINT_SIZE
    assert first.status_reason == _expected(first, 11, 14, 45)
    assert order.status == Order.Status.NEEDS_REVIEW
    assert not order.ai_processed
    moved = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.IMAGE_STATUS).latest("seq")
    assert moved.payload["image"] == first.pk
    assert moved.payload["to"] == S.NEEDS_REVIEW


def test_the_gate_moves_a_processing_order_to_review(ingested_order, manager, settings):
    settings.PRINT_MIN_DPI = 45
    order = ingested_order("analyze-only", n=2)
    first, second = order.images.order_by("pk")
    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 1}], actor=manager)
    assert services.process_image(first.pk).status == S.PROCESSED
    print_services.set_order_prints(order, [{"size": "11x14", "quantity": 1}], actor=manager)
    # The second image keeps a 4×6 of its own: it prints well and settles the order.
    print_services.set_image_prints(second, [{"size": "4x6", "quantity": 1}], actor=manager)
    assert services.process_image(second.pk).status == S.PROCESSED
    first.refresh_from_db()
    order.refresh_from_db()
    assert first.status == S.NEEDS_REVIEW
    assert order.status == Order.Status.NEEDS_REVIEW
    assert not order.ai_processed
    moved = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.ORDER_STATUS).latest("seq")
    assert moved.payload["reason"] == "1 image is too small for its print size"


def test_a_crop_moved_in_review_then_approved_stays_approved(ingested_order, manager, settings):
    settings.PRINT_MIN_DPI = 300
    order = ingested_order("analyze-only")
    print_services.set_order_prints(order, [{"size": "8x10", "quantity": 1}], actor=manager)
    image = services.process_image(order.images.get().pk)
    assert image.review_reason == Image.ReviewReason.PRINT_SIZE
    # The reviewer tightens the crop (still short: fewer pixels than before), then approves.
    print_services.save_crop(
        image, "8x10", {"x": 0.2, "y": 0.2, "width": 0.5, "height": 0.5}, actor=manager
    )
    services.approve_image(image, manager)
    image.refresh_from_db()
    order.refresh_from_db()
    assert image.status == S.PROCESSED
    assert order.ai_processed


def test_an_image_in_review_follows_the_print_lines_as_they_change(
    ingested_order, manager, settings
):
    """Issue 16: the sentence is the one of the lines as they are now, and an image that now
    meets them leaves review by itself (the order moves on to the PMR)."""
    settings.PRINT_MIN_DPI = 60  # the test photo gives about 37 DPI at 8×10, 75 at 4×6
    order = ingested_order("analyze-only")
    print_services.set_order_prints(order, [{"size": "8x10", "quantity": 1}], actor=manager)
    done = services.process_image(order.images.get().pk)
    assert done.status == S.NEEDS_REVIEW
    assert done.status_reason == _expected(done, 8, 10, 60)

    print_services.set_order_prints(
        order, [{"size": "11x14", "quantity": 1}, {"size": "4x6", "quantity": 2}], actor=manager
    )
    done.refresh_from_db()
    assert done.status == S.NEEDS_REVIEW  # 11×14 is short: its sentence, not 8×10's
    assert done.status_reason == _expected(done, 11, 14, 60)

    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 2}], actor=manager)
    done.refresh_from_db()
    order.refresh_from_db()
    assert done.status == S.PROCESSED, done.status_reason
    assert done.review_reason == ""
    assert order.ai_processed
    assert order.status == Order.Status.PROCESSING


def test_an_image_of_its_own_lines_leaves_review_when_they_are_met(
    ingested_order, manager, settings
):
    settings.PRINT_MIN_DPI = 60
    order = ingested_order("analyze-only")
    print_services.set_order_prints(order, [{"size": "8x10", "quantity": 1}], actor=manager)
    done = services.process_image(order.images.get().pk)
    assert done.status == S.NEEDS_REVIEW

    print_services.set_image_prints(done, [{"size": "4x6", "quantity": 1}], actor=manager)
    done.refresh_from_db()
    assert done.status == S.PROCESSED, done.status_reason
