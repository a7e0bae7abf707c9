"""LocalProvider.analyze on the project's real photos and variants derived from them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from ai_processing.providers.base import (
    ImageInput,
    OperationNotSupported,
    ProviderRejected,
)
from ai_processing.providers.local import LocalProvider, print_sizes

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"


def photo(name: str) -> Image.Image:
    return Image.open(PHOTOS / name).convert("RGB")


def as_input(image: Image.Image) -> ImageInput:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return ImageInput.from_bytes(buffer.getvalue())


def noisy(image: Image.Image, sigma: float = 15) -> Image.Image:
    pixels = np.asarray(image).astype(float)
    pixels += np.random.default_rng(7).normal(0, sigma, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    return LocalProvider()


@pytest.mark.parametrize("name", ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"])
def test_sharp_photo_is_told_from_its_blurred_copy(provider, name):
    sharp = provider.analyze(as_input(photo(name))).facts["sharpness"]
    blurred = provider.analyze(as_input(photo(name).filter(ImageFilter.GaussianBlur(2))))
    blurred = blurred.facts["sharpness"]

    assert sharp["verdict"] in {"sharp", "soft"}
    assert not sharp["blurred"]
    assert blurred["verdict"] == "blurred"
    assert sharp["laplacian_variance"] > 20 * blurred["laplacian_variance"]


@pytest.mark.parametrize("name", ["astronaut.png", "camera.png", "chelsea.png", "coffee.png"])
def test_exposure_tells_dark_from_bright(provider, name):
    base = photo(name)
    normal = provider.analyze(as_input(base)).facts["exposure"]
    dark = provider.analyze(as_input(ImageEnhance.Brightness(base).enhance(0.3))).facts
    bright = provider.analyze(as_input(ImageEnhance.Brightness(base).enhance(2.2))).facts

    assert normal["verdict"] == "ok"
    assert dark["exposure"]["verdict"] == "under"
    assert bright["exposure"]["verdict"] == "over"
    assert (
        dark["exposure"]["mean_luminance"]
        < normal["mean_luminance"]
        < bright["exposure"]["mean_luminance"]
    )
    assert bright["exposure"]["clipped_highlights"] > normal["clipped_highlights"]


@pytest.mark.parametrize("name", ["astronaut.png", "camera.png", "coffee.png", "rocket.jpg"])
def test_noise_tells_noisy_from_clean(provider, name):
    clean = provider.analyze(as_input(photo(name))).facts["noise"]
    grainy = provider.analyze(as_input(noisy(photo(name)))).facts["noise"]

    assert clean["verdict"] == "clean"
    assert grainy["verdict"] == "noisy"
    assert grainy["sigma"] > 4 * clean["sigma"]


def test_print_sizes_for_a_24_megapixel_photo():
    sizes = print_sizes(6000, 4000)
    assert sizes["dpi"]["4x6"] == 1000
    assert sizes["dpi"]["16x20"] == 250  # 4000 px over 16 inches
    assert sizes["at_300_dpi"] == ["4x6", "5x7", "8x10", "11x14"]
    assert sizes["at_200_dpi"] == ["4x6", "5x7", "8x10", "11x14", "16x20"]
    assert print_sizes(4000, 6000) == sizes  # orientation does not matter


def test_print_sizes_at_the_edges():
    assert print_sizes(1800, 1200)["at_300_dpi"] == ["4x6"]
    small = print_sizes(1500, 1000)
    assert small["at_300_dpi"] == []
    assert small["at_200_dpi"] == ["4x6", "5x7"]  # 5x7: min(1000/5, 1500/7) = 200 dpi
    assert print_sizes(640, 427)["at_200_dpi"] == []


def test_analyze_reads_a_path_and_reports_size_and_print_sizes(provider):
    result = provider.analyze(ImageInput.from_path(PHOTOS / "rocket.jpg"))
    assert result.model == provider.model
    assert result.cost == 0
    assert (result.facts["width"], result.facts["height"]) == (640, 427)
    assert result.facts["resolution"]["at_200_dpi"] == []


def test_faces_found_in_the_portrait_and_not_in_the_launch(provider):
    portrait = provider.analyze(as_input(photo("astronaut.png"))).facts["faces"]
    if not portrait["available"]:
        pytest.skip(portrait["reason"])
    launch = provider.analyze(as_input(photo("rocket.jpg"))).facts["faces"]
    assert portrait["count"] == 1
    x, y, w, h = portrait["faces"][0]["box"]
    assert 0 <= x < 512
    assert 0 <= y < 512
    assert min(w, h) > 50
    assert launch["count"] == 0


def test_faces_can_be_turned_off():
    facts = LocalProvider(detect_faces=False).analyze(as_input(photo("camera.png"))).facts
    assert facts["faces"] == {"available": False, "reason": "face detection is turned off"}


def test_caption_is_refused_not_invented(provider):
    with pytest.raises(OperationNotSupported) as excinfo:
        provider.caption(as_input(photo("coffee.png")), "Describe the photo")
    assert excinfo.value.reason == "The local provider writes no captions"


def test_undecodable_bytes_are_rejected(provider):
    with pytest.raises(ProviderRejected):
        provider.analyze(ImageInput.from_bytes(b"\x89PNG\r\n\x1a\n not really a png"))
