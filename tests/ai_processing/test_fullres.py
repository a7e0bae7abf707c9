"""Full resolution: fit an edit on the small pair, judge it, apply it to the full original.

Real photographs (tests/data/photos), enlarged to camera-like sizes with sensor-like noise.
A known tonal edit is applied at full size as the reference; its downscale, at one of the
model's allowed sizes, stands for the model's answer. No database: ``ai_processing.fullres``
is plain data in and out.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import pyvips
from PIL import Image as PILImage
from PIL import ImageCms

from ai_processing import fullres
from ai_processing.fullres import align, score
from ai_processing.simulator import imaging
from tests.orders.intake import photos

SIZE = (2400, 1600)  # big enough to be well above the 1248 x 832 answer, quick to test


def camera_like(name: str, size: tuple[int, int] = SIZE, seed: int = 1) -> np.ndarray:
    """The photo enlarged to ``size`` with sensor-like noise: fine detail to keep."""
    picture = photos.photo(name).convert("RGB")
    scale = max(size[0] / picture.width, size[1] / picture.height)
    big = picture.resize(
        (round(picture.width * scale) + 1, round(picture.height * scale) + 1),
        PILImage.Resampling.LANCZOS,
    )
    left, top = (big.width - size[0]) // 2, (big.height - size[1]) // 2
    pixels = np.asarray(big.crop((left, top, left + size[0], top + size[1])), np.float64)
    noise = np.random.default_rng(seed).normal(0, 5, pixels.shape[:2])[..., None]
    return np.clip(np.rint(pixels + noise), 0, 255).astype(np.uint8)


def jpeg_bytes(pixels: np.ndarray, quality: int = 95, **options) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="JPEG", quality=quality, **options)
    return out.getvalue()


def tonal_edit(pixels: np.ndarray) -> np.ndarray:
    """A curve, a white balance, more contrast and a vignette: all tone, no content."""
    x = pixels.astype(np.float64) / 255
    x = x ** np.array([0.9, 1.0, 1.1]) * np.array([1.05, 1.0, 0.92])
    x = 0.5 + (x - 0.5) * 1.15
    yy, xx = np.mgrid[0 : x.shape[0], 0 : x.shape[1]]
    r2 = (xx / x.shape[1] - 0.5) ** 2 + (yy / x.shape[0] - 0.5) ** 2
    x = x * (1 - 0.35 * r2)[..., None]
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def downscale(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(PILImage.fromarray(pixels).resize(size, PILImage.Resampling.LANCZOS))


def decoded(data: bytes) -> np.ndarray:
    return align.to_array(pyvips.Image.new_from_buffer(data, ""))


def high_frequency(pixels: np.ndarray) -> float:
    grey = pixels.astype(np.float64).mean(axis=2)
    return float((np.diff(grey, axis=0) ** 2).mean() + (np.diff(grey, axis=1) ** 2).mean())


@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png", "astronaut.png"])
def test_a_tonal_edit_is_recovered_at_full_resolution(name):
    original = camera_like(name)
    reference = tonal_edit(original)
    answer = jpeg_bytes(downscale(reference, (1248, 832)))
    source = fullres.Source(data=jpeg_bytes(original, quality=98))
    plan = fullres.plan(source, answer)
    assert plan.kind == "tonal", plan.describe()
    assert plan.region.how == "whole"
    result = decoded(fullres.render(source, plan))  # the default quality, 98
    assert result.shape == original.shape
    assert score.psnr(result, reference) >= 38.0
    # The original's grain is still there: an enlarged answer would keep a fraction of it.
    enlarged = np.asarray(
        PILImage.fromarray(downscale(reference, (1248, 832))).resize(
            SIZE, PILImage.Resampling.LANCZOS
        )
    )
    assert high_frequency(result) >= 0.99 * high_frequency(reference)
    assert high_frequency(enlarged) < 0.6 * high_frequency(reference)


def test_the_simulators_edit_at_another_aspect_is_read_as_a_centre_crop():
    original = camera_like("rocket.jpg", (1600, 2400))  # portrait
    data = jpeg_bytes(original, quality=98)
    prompt = "Replace the background with a seamless studio backdrop."
    answer = imaging.encode(imaging.edit(data, prompt, (896, 1152)))  # 4:5
    source = fullres.Source(data=data)
    plan = fullres.plan(source, answer)
    assert plan.kind == "tonal", plan.describe()
    assert plan.region.how == "centre crop"
    assert [t["framing"] for t in plan.tried] == ["centre crop", "squeezed"]
    assert plan.tried[0]["psnr_db"] > plan.tried[1]["psnr_db"] + 5
    result = decoded(fullres.render(source, plan))
    assert result.shape == original.shape  # the whole original, not the 4:5 crop
    # Inside the crop the result matches the answer, at the answer's size.
    top = round((2400 - 1600 * 1152 / 896) / 2)
    inside = result[top : 2400 - top, :]
    small = downscale(inside, (896, 1152))
    assert score.psnr(small, fullres.decode_answer(answer)) >= 30.0


@pytest.mark.parametrize("change", ["patch", "background"])
def test_a_content_change_is_generative(change):
    original = camera_like("chelsea.png")
    answer = downscale(tonal_edit(original), (1248, 832)).copy()
    if change == "patch":  # an object put in (another photo's piece), 3 % of the picture
        other = downscale(camera_like("coffee.png"), (1248, 832))
        answer[300:450, 500:750] = other[300:450, 500:750]
    else:  # a new, plain backdrop on the left third
        answer[:, :420] = np.array([205, 205, 210], np.uint8)
    plan = fullres.plan(fullres.Source(data=jpeg_bytes(original)), jpeg_bytes(answer))
    assert plan.kind == "generative", plan.describe()
    assert plan.target_size == SIZE
    with pytest.raises(ValueError, match="only a tonal plan"):
        fullres.render(fullres.Source(data=jpeg_bytes(original)), plan)


def test_an_answer_at_full_size_is_kept():
    original = camera_like("coffee.png", (1200, 800))
    plan = fullres.plan(fullres.Source(data=jpeg_bytes(original)), jpeg_bytes(original))
    assert plan.kind == "full_size"
    assert plan.target_size == (1200, 800)


def test_exif_orientation_is_applied_before_fitting_and_in_the_result():
    upright = camera_like("astronaut.png", (1600, 2400))
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # turned left: orientation 6 shows it
    exif = photos.camera_exif(orientation=6)
    data = jpeg_bytes(stored, quality=98, exif=exif.tobytes())
    reference = tonal_edit(upright)
    answer = jpeg_bytes(downscale(reference, (832, 1248)))
    source = fullres.Source(data=data)
    plan = fullres.plan(source, answer)
    assert plan.original_size == (1600, 2400)
    assert plan.kind == "tonal", plan.describe()
    result = decoded(fullres.render(source, plan))
    assert result.shape == upright.shape
    assert score.psnr(result, reference) >= 36.0


def test_the_originals_icc_profile_is_kept():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = camera_like("coffee.png", (1800, 1200))
    data = jpeg_bytes(original, quality=98, icc_profile=profile)
    answer = jpeg_bytes(downscale(tonal_edit(original), (1248, 832)))
    source = fullres.Source(data=data)
    out = pyvips.Image.new_from_buffer(fullres.render(source, fullres.plan(source, answer)), "")
    assert out.get("icc-profile-data") == profile


def test_identical_pictures_score_99_db_and_nothing_changed():
    picture = downscale(camera_like("coffee.png"), (600, 400))
    assert score.psnr(picture, picture) == 99.0
    assert score.changed_share(picture.astype(float), picture) == 0.0
