"""High-resolution generative edits: RUNWARE_EDIT_MODEL_HIRES (google:4@2 at 2K/4K) through
the registry and the Runware simulator, and enlarge() with the settings' own chain (real
Redis breaker, cache and provider slots)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ai_processing.providers.base import ImageInput
from ai_processing.providers.registry import runware_from_settings
from ai_processing.simulator import RunwareSimulator
from ai_processing.upscale import METHOD_AI, enlarge

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"
CHELSEA = (PHOTOS / "chelsea.png").read_bytes()  # 451x300


@pytest.fixture(scope="module")
def sim():
    with RunwareSimulator(seed=5) as simulator:
        yield simulator


@pytest.fixture
def on_sim(settings, sim):
    settings.RUNWARE_API_KEY = "test-key"
    settings.RUNWARE_URL = sim.ws_url
    return settings


def size_of(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def test_hires_model_answers_edits_at_4k(on_sim):
    on_sim.RUNWARE_EDIT_MODEL_HIRES = "google:4@2"
    provider = runware_from_settings()
    result = provider.edit(ImageInput.from_bytes(CHELSEA), "Replace the background with a beach")
    assert size_of(result.image_bytes) == (5096, 3392)  # 4K 3:2 (Runware lists 5096 first)
    assert result.model == "google:4@2"
    assert result.cost == pytest.approx(0.244)
    assert result.details["resolution"] == "4K"
    assert provider.model_for("edit") == "google:4@2@4K"
    assert provider.model_for("caption") == "google:4@1"  # captions stay on RUNWARE_MODEL


def test_hires_2k_tier_and_print_aspect(on_sim):
    on_sim.RUNWARE_EDIT_MODEL_HIRES = "google:4@2"
    on_sim.RUNWARE_EDIT_HIRES_RESOLUTION = "2K"
    result = runware_from_settings().edit(ImageInput.from_bytes(CHELSEA), "Sky", aspect="4:5")
    assert size_of(result.image_bytes) == (1856, 2304)
    assert result.cost == pytest.approx(0.138)


def test_without_hires_edits_stay_at_about_one_megapixel(on_sim):
    on_sim.RUNWARE_EDIT_MODEL_HIRES = ""
    result = runware_from_settings().edit(ImageInput.from_bytes(CHELSEA), "Sky")
    assert size_of(result.image_bytes) == (1248, 832)
    assert result.model == "google:4@1"


@pytest.mark.parametrize(
    ("model", "tier"), [("google:4@1", "4K"), ("google:4@2", "8K"), ("google:4@2", "")]
)
def test_a_mistyped_hires_setting_is_logged_and_ignored(on_sim, caplog, model, tier):
    on_sim.RUNWARE_EDIT_MODEL_HIRES = model
    on_sim.RUNWARE_EDIT_HIRES_RESOLUTION = tier
    with caplog.at_level(logging.ERROR):
        provider = runware_from_settings()
    if tier == "":  # empty tier: the default, 4K
        assert provider.hires_model == "google:4@2"
        return
    assert provider.hires_model is None
    assert "RUNWARE_EDIT_MODEL_HIRES ignored" in caplog.text


def test_enlarge_with_the_settings_chain(on_sim):
    """No chain given: the settings' chain with its Redis breaker, cache and slots does it."""
    on_sim.AI_PROVIDERS = "runware,gemini,local"
    # A picture of its own, new at each run: the result cache lives in Redis, which outlives a
    # test run (CI's Redis keeps an earlier run's entry, and the answer would be "cache").
    rng = np.random.default_rng()
    pixels = rng.integers(0, 255, (100, 150, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")

    outcome = enlarge(buf.getvalue(), 1200, 800)

    assert size_of(outcome.image_bytes) == (1200, 800)
    assert outcome.method == METHOD_AI
    assert [(t["provider"], t["outcome"]) for t in outcome.trail] == [
        ("runware", "ok"),
        ("runware", "ok"),
    ]
    assert all(t.get("cache_key") for t in outcome.trail)
