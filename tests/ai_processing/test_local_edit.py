"""LocalProvider.edit: a conservative auto-enhance that never changes geometry."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ai_processing.providers.base import ImageInput
from ai_processing.providers.local import LocalProvider

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"


def pixels(name: str) -> np.ndarray:
    return np.asarray(Image.open(PHOTOS / name).convert("RGB")).astype(float)


def as_input(array: np.ndarray) -> ImageInput:
    buffer = io.BytesIO()
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return ImageInput.from_bytes(buffer.getvalue())


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(float)


def cast_spread(array: np.ndarray) -> float:
    means = array.reshape(-1, 3).mean(axis=0)
    return float((means.max() - means.min()) / means.mean())


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    return LocalProvider()


@pytest.mark.parametrize("name", ["camera.png", "astronaut.png", "rocket.jpg"])
def test_colour_cast_moves_toward_neutral(provider, name):
    warm = pixels(name) * [1.25, 1.0, 0.75]
    warm = np.clip(warm, 0, 255)
    result = provider.edit(as_input(warm), "fix the colours")
    out = decode(result.image_bytes)

    assert out.shape == warm.shape
    assert cast_spread(out) < 0.8 * cast_spread(warm)
    red, _, blue = out.reshape(-1, 3).mean(axis=0)
    red_before, _, blue_before = warm.reshape(-1, 3).mean(axis=0)
    assert red - blue < red_before - blue_before


def test_well_exposed_neutral_photo_is_nearly_unchanged(provider):
    original = pixels("camera.png")
    out = decode(provider.edit(as_input(original), "").image_bytes)

    assert out.shape == original.shape
    assert np.abs(out - original).mean() < 8
    assert np.abs(out.reshape(-1, 3).mean(0) - original.reshape(-1, 3).mean(0)).max() < 8
    assert cast_spread(out) < 0.02


def test_dark_photo_is_brightened_but_not_blown_out(provider):
    dark = pixels("chelsea.png") * 0.35
    out = decode(provider.edit(as_input(dark), "").image_bytes)
    assert out.mean() > dark.mean() + 10
    assert (out.max(axis=2) >= 254).mean() < 0.02


def test_edit_result_records_what_it_did_and_keeps_geometry(provider):
    result = provider.edit(ImageInput.from_path(PHOTOS / "rocket.jpg"), "make it pop", aspect="4:5")
    assert result.mime_type == "image/jpeg"
    assert result.image_bytes[:3] == b"\xff\xd8\xff"
    assert result.cost == 0
    assert result.model == provider.model
    assert result.details["prompt_ignored"] is True
    assert result.details["aspect_ignored"] == "4:5"
    assert (result.details["width"], result.details["height"]) == (640, 427)
    assert Image.open(io.BytesIO(result.image_bytes)).size == (640, 427)
