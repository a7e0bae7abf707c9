"""The quality gate: a preset's thresholds turn the local measures into review decisions."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from PIL import ImageFilter

from ai_processing import explain, gate, services
from ai_processing.models import ProcessingPreset
from orders import intake
from orders.models import Image, Order
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    manager_fixture,
    media_root_fixture,
)
from tests.orders.intake import photos

FACTS = {
    "sharpness": {"laplacian_variance": 12.0},
    "exposure": {"clipped_shadows": 0.02, "clipped_highlights": 0.32},
    "noise": {"sigma": 7.5},
}
NO_GATE = SimpleNamespace()
IMAGE = SimpleNamespace(width=1248, height=832)


def limits(**values) -> SimpleNamespace:
    return SimpleNamespace(**values)


def test_no_thresholds_no_gate():
    assert gate.verdict(NO_GATE, FACTS, IMAGE) == []
    assert gate.verdict(limits(gate_min_sharpness=None), FACTS, IMAGE) == []


def test_each_threshold_says_what_was_measured_and_what_the_preset_needs():
    preset = limits(
        gate_min_sharpness=40,
        gate_max_clipped_shadows=5,
        gate_max_clipped_highlights=10,
        gate_max_noise=6,
        gate_min_short_side=1200,
    )
    assert gate.verdict(preset, FACTS, IMAGE) == [
        "Blurred: sharpness 12, this preset needs 40",
        "Overexposed: 32 % of the pixels are clipped highlights, this preset allows 10 %",
        "Noisy: noise 7.5, this preset allows 6",
        "Too small: 1248 x 832 pixels, this preset needs 1200 on the short side",
    ]


def test_at_the_limit_passes_and_missing_measures_are_not_guessed():
    preset = limits(gate_min_sharpness=12, gate_max_clipped_highlights=32, gate_max_noise=7.5)
    assert gate.verdict(preset, FACTS, IMAGE) == []
    strict = limits(gate_min_sharpness=40, gate_max_noise=1, gate_min_short_side=500)
    assert gate.verdict(strict, None, IMAGE) == []  # no analysis: only the size is known
    assert gate.verdict(strict, {"sharpness": "n/a"}, SimpleNamespace(width=None)) == []


def _upload(order, data: bytes, name: str, actor) -> Image:
    image = intake.add_image(order, source=io.BytesIO(data), filename=name, actor=actor)
    intake.ingest_image(image.pk)
    return Image.objects.get(pk=image.pk)


@pytest.mark.django_db
def test_a_blurred_photo_goes_to_review_and_a_sharp_one_is_processed(
    manager, make_order, ai_settings
):
    preset = ProcessingPreset.objects.create(
        name="Gated", slug="gated", operations=["analyze", "edit"], gate_min_sharpness=40
    )
    order = make_order(manager, preset=preset)
    blurred = photos.photo("chelsea.png").filter(ImageFilter.GaussianBlur(4))
    soft = _upload(order, photos.jpeg(blurred), "IMG_blurred.jpg", manager)
    sharp = _upload(order, photos.jpeg(photos.photo("rocket.jpg")), "IMG_sharp.jpg", manager)
    for image in (soft, sharp):
        services.process_image(image.pk)
    soft.refresh_from_db()
    sharp.refresh_from_db()

    assert sharp.status == Image.Status.PROCESSED
    assert soft.status == Image.Status.NEEDS_REVIEW
    assert soft.review_reason == Image.ReviewReason.QUALITY
    measured = soft.ai_metadata["analyze"]["facts"]["sharpness"]["laplacian_variance"]
    assert measured < 40
    assert soft.status_reason == f"Blurred: sharpness {gate._fmt(measured)}, this preset needs 40"
    assert explain.review_reason(soft).startswith("Blurred: sharpness")
    assert soft.processed  # the edit was made: a reviewer who lets it through ships it edited
    order.refresh_from_db()
    assert order.status == Order.Status.NEEDS_REVIEW
    assert not order.ai_processed

    services.approve_image(soft, actor=manager)  # a person decides it is fine after all
    order.refresh_from_db()
    assert order.ai_processed
