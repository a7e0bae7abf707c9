"""enlarge(): a generative edit taken to print size through Runware's imageUpscale (the
simulator over a real WebSocket), falling back to the local Lanczos resize when Runware is
down; with the real Redis breaker and cache where the test is about them."""

from __future__ import annotations

import io
import socket
import uuid
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import redis
from django.conf import settings
from PIL import Image

from ai_processing.cache import ResultCache
from ai_processing.providers.base import ImageInput, ProviderRejected
from ai_processing.providers.chain import ProviderChain
from ai_processing.providers.gemini import GeminiProvider
from ai_processing.providers.local import LocalProvider
from ai_processing.providers.runware import RunwareProvider
from ai_processing.simulator import RunwareSimulator
from ai_processing.simulator.tasks import UPSCALE_COST
from ai_processing.upscale import (
    LANCZOS_ONLY_BELOW,
    MAX_OVERSHOOT,
    METHOD_AI,
    METHOD_DOWNSCALE,
    METHOD_LOCAL,
    METHOD_RESIZE,
    UpscaleError,
    enlarge,
    plan_step,
)
from utilities.circuit_breaker import CircuitBreaker

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"
CHELSEA = (PHOTOS / "chelsea.png").read_bytes()  # 451x300


@pytest.fixture(scope="module")
def sim():
    with RunwareSimulator(seed=11) as simulator:
        yield simulator


def runware(url: str, **options) -> RunwareProvider:
    return RunwareProvider(
        url=url, api_key="test-key", task_timeout=30, connect_attempts=1, **options
    )


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"ws://127.0.0.1:{port}/v1"


def jpeg(data: bytes, size: tuple[int, int]) -> bytes:
    img = Image.open(io.BytesIO(data)).convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def looks_like(result: bytes, source: bytes) -> float:
    """Mean absolute difference (0-255) of ``result`` scaled back to ``source``'s size."""
    src = Image.open(io.BytesIO(source)).convert("RGB")
    back = Image.open(io.BytesIO(result)).convert("RGB").resize(src.size, Image.Resampling.BOX)
    return float(np.abs(np.asarray(back, float) - np.asarray(src, float)).mean())


# --- the plan (pure) -------------------------------------------------------------------


def test_plan_leaves_small_enlargements_to_the_final_resize():
    assert plan_step((5056, 3392), (6000, 4000)) is None  # 1.19x
    assert plan_step((6000, 4000), (6000, 4000)) is None
    assert plan_step((8000, 6000), (6000, 4000)) is None


def test_plan_picks_the_smallest_factor_that_covers_or_four():
    # 1248x832 (google:4@1 at 3:2) to 24 MP: x4 falls short (4.8 needed), so x4 and repeat.
    step = plan_step((1248, 832), (6000, 4000))
    assert (step.factor, step.send, step.shrunk) == (4, (1248, 832), False)
    step = plan_step((1000, 1000), (2900, 2900))
    assert (step.factor, step.shrunk) == (3, False)


def test_plan_shrinks_first_rather_than_overshoot():
    # 1.5x needed: x2 would overshoot by 1.33 > MAX_OVERSHOOT; shrink so x2 lands just above.
    step = plan_step((1200, 800), (1800, 1200))
    assert step.factor == 2
    assert step.shrunk
    assert step.send[0] * 2 >= 1800
    assert step.send[1] * 2 >= 1200
    assert step.send[0] * 2 <= 1800 * MAX_OVERSHOOT
    assert LANCZOS_ONLY_BELOW <= 1.5


# --- through the Runware simulator -------------------------------------------------------


def test_enlarges_to_exactly_the_print_size_by_ai_upscale(sim):
    source = jpeg(CHELSEA, (300, 200))
    chain = ProviderChain([runware(sim.ws_url), LocalProvider()])

    outcome = enlarge(source, 1800, 1200, chain=chain)

    assert Image.open(io.BytesIO(outcome.image_bytes)).size == (1800, 1200)
    assert outcome.mime_type == "image/jpeg"
    assert outcome.method == METHOD_AI
    assert outcome.ai_upscaled
    # 300x200 -> x4 (1200x800) -> 1.5x left: shrunk to 918x612 and x2 -> crop to 1800x1200.
    assert [s["factor"] for s in outcome.steps] == [4, 2]
    assert outcome.steps[0]["to"] == [1200, 800]
    assert outcome.steps[1]["shrunk_first"] is True
    assert outcome.steps[1]["to"][0] >= 1800
    assert {s["provider"] for s in outcome.steps} == {"runware"}
    assert [(t["provider"], t["outcome"], t["step"]) for t in outcome.trail] == [
        ("runware", "ok", 1),
        ("runware", "ok", 2),
    ]
    assert outcome.cost == Decimal(str(UPSCALE_COST)) * 2
    assert looks_like(outcome.image_bytes, source) < 6  # the same picture, only larger
    meta = outcome.to_metadata()
    assert meta["size"] == [1800, 1200]
    assert meta["cost"] == str(outcome.cost)


def test_other_aspect_is_covered_and_centre_cropped(sim):
    source = jpeg(CHELSEA, (200, 200))
    outcome = enlarge(source, 600, 400, chain=ProviderChain([runware(sim.ws_url)]))
    assert Image.open(io.BytesIO(outcome.image_bytes)).size == (600, 400)
    assert outcome.steps[0]["factor"] == 3
    assert outcome.cropped == pytest.approx(1 / 3, abs=0.01)


def test_a_large_edit_is_only_resized_without_calls(sim):
    source = jpeg(CHELSEA, (451, 300))
    chain = ProviderChain([runware(sim.ws_url)])
    near = enlarge(source, 500, 333, chain=chain)
    smaller = enlarge(source, 225, 150, chain=chain)
    assert (near.method, near.steps, near.trail, near.cost) == (METHOD_RESIZE, [], [], 0)
    assert smaller.method == METHOD_DOWNSCALE
    assert Image.open(io.BytesIO(smaller.image_bytes)).size == (225, 150)


def test_undecodable_data_and_bad_sizes_are_refused():
    with pytest.raises(UpscaleError):
        enlarge(b"not an image", 100, 100, chain=ProviderChain([]))
    with pytest.raises(UpscaleError):
        enlarge(jpeg(CHELSEA, (30, 20)), 0, 100, chain=ProviderChain([]))


def test_runware_provider_upscale_result(sim):
    result = runware(sim.ws_url).upscale(ImageInput.from_bytes(jpeg(CHELSEA, (120, 80))), 3)
    assert Image.open(io.BytesIO(result.image_bytes)).size == (360, 240)
    assert result.mime_type == "image/jpeg"
    assert result.details["method"].startswith("Runware imageUpscale")
    assert result.cost == UPSCALE_COST
    with pytest.raises(ProviderRejected):
        runware(sim.ws_url).upscale(ImageInput.from_bytes(jpeg(CHELSEA, (12, 8))), 5)


# --- fallback -----------------------------------------------------------------------------


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = f"test-upscale-{uuid.uuid4().hex}"
    client.test_prefix = prefix
    yield client
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_runware_down_falls_back_to_the_local_lanczos_resize(redis_client):
    """Runware unreachable: the chain's breaker counts it, Gemini says it cannot upscale,
    the local provider resizes (labelled not AI), and the final resize finishes the job."""
    breaker = CircuitBreaker(
        redis_client, failures=3, cooldown=60, prefix=f"{redis_client.test_prefix}:br"
    )
    chain = ProviderChain(
        [
            runware(dead_url()),
            GeminiProvider(api_key="k", base_url="http://127.0.0.1:9"),
            LocalProvider(),
        ],
        breaker,
    )
    source = jpeg(CHELSEA, (300, 200))

    outcome = enlarge(source, 1800, 1200, chain=chain)

    assert Image.open(io.BytesIO(outcome.image_bytes)).size == (1800, 1200)
    assert outcome.method == METHOD_LOCAL
    assert not outcome.ai_upscaled
    assert [(t["provider"], t["outcome"]) for t in outcome.trail] == [
        ("runware", "unavailable"),
        ("gemini", "unsupported"),
        ("local", "ok"),
    ]
    assert len(outcome.steps) == 1  # after a local step the final resize does the rest
    assert outcome.steps[0]["method"] == METHOD_LOCAL
    assert outcome.cost == 0
    assert breaker.state("runware")["failures"] == 1
    assert looks_like(outcome.image_bytes, source) < 6


def test_no_provider_can_upscale_still_delivers_the_size():
    chain = ProviderChain([GeminiProvider(api_key="k", base_url="http://127.0.0.1:9")])
    outcome = enlarge(jpeg(CHELSEA, (300, 200)), 900, 600, chain=chain)
    assert Image.open(io.BytesIO(outcome.image_bytes)).size == (900, 600)
    assert outcome.method == METHOD_LOCAL
    assert outcome.trail[0]["outcome"] == "unsupported"
    assert outcome.steps[0]["provider"] is None


def test_a_second_enlargement_reuses_the_cached_upscale(sim, redis_client):
    """The cost rule of every operation: a cached result is free once the image that paid
    for it committed (its cache entry marked charged); until then it is counted."""
    cache = ResultCache(redis_client, prefix=f"{redis_client.test_prefix}:cache")
    chain = ProviderChain([runware(sim.ws_url), LocalProvider()], cache=cache)
    source = jpeg(CHELSEA, (150, 100))

    first = enlarge(source, 600, 400, chain=chain)
    unpaid_reuse = enlarge(source, 600, 400, chain=chain)
    for key in first.cache_keys:
        cache.mark_charged(key)
    second = enlarge(source, 600, 400, chain=chain)
    fresh = enlarge(source, 600, 400, chain=chain, fresh=True)

    assert first.cost == Decimal(str(UPSCALE_COST))
    assert len(first.cache_keys) == 1
    assert [t["outcome"] for t in unpaid_reuse.trail] == ["cache"]
    assert unpaid_reuse.cost == first.cost  # its payer never committed: counted now
    assert [t["outcome"] for t in second.trail] == ["cache"]
    assert second.cost == 0
    assert second.image_bytes == first.image_bytes
    assert [t["outcome"] for t in fresh.trail] == ["ok"]
    assert fresh.cost == first.cost
