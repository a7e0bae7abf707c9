"""The real providers in a chain: Runware → Gemini → local, against both simulators.

Breaker and cache live in Redis (``REDIS_URL``) under a per-test prefix that is deleted
afterwards; no database.
"""

from __future__ import annotations

import io
import socket
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from PIL import Image

from ai_processing.cache import ResultCache
from ai_processing.providers.base import ImageInput
from ai_processing.providers.chain import NoProviderAvailable, ProviderChain
from ai_processing.providers.gemini import GeminiProvider
from ai_processing.providers.local import LocalProvider
from ai_processing.providers.runware import RunwareProvider
from ai_processing.simulator import RunwareSimulator
from ai_processing.simulator.gemini import GeminiSimulator
from utilities.circuit_breaker import CircuitBreaker

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"
COFFEE = (PHOTOS / "coffee.png").read_bytes()  # 600x400
RUNWARE_KEY, GEMINI_KEY = "runware-good", "gemini-good"


@pytest.fixture(scope="module")
def runware_sim():
    with RunwareSimulator(api_key=RUNWARE_KEY) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def gemini_sim():
    with GeminiSimulator(api_key=GEMINI_KEY) as simulator:
        yield simulator


@pytest.fixture
def client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = f"test-ai-remote-chain-{uuid.uuid4().hex}"
    client.test_prefix = prefix
    yield client
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def breaker(client) -> CircuitBreaker:
    return CircuitBreaker(client, failures=2, cooldown=60, prefix=f"{client.test_prefix}:br")


@pytest.fixture
def cache(client) -> ResultCache:
    return ResultCache(client, prefix=f"{client.test_prefix}:cache")


def runware(sim, key: str = RUNWARE_KEY) -> RunwareProvider:
    return RunwareProvider(url=sim.ws_url, api_key=key, task_timeout=20, connect_attempts=1)


def gemini(sim, key: str = GEMINI_KEY) -> GeminiProvider:
    return GeminiProvider(api_key=key, base_url=sim.url, timeout=20)


def photo() -> ImageInput:
    # A distinct SHA-256 per test run, so no cached result from another run is reused.
    # (bytes after PNG's IEND chunk are ignored by decoders).
    return ImageInput.from_bytes(COFFEE + uuid.uuid4().bytes)


def outcomes(trail) -> list[tuple[str, str]]:
    return [(step["provider"], step["outcome"]) for step in trail]


def test_runware_first_when_it_is_up(runware_sim, gemini_sim, breaker, cache):
    chain = ProviderChain(
        [runware(runware_sim), gemini(gemini_sim), LocalProvider()], breaker, cache
    )
    result, trail = chain.edit(photo(), "Warmer", aspect="4:5")
    assert outcomes(trail) == [("runware", "ok")]
    assert result.model == "google:4@1"
    assert result.cost == pytest.approx(0.039)


def test_runware_key_refused_falls_to_gemini(runware_sim, gemini_sim, breaker, cache):
    chain = ProviderChain(
        [runware(runware_sim, key="revoked"), gemini(gemini_sim), LocalProvider()],
        breaker,
        cache,
    )
    result, trail = chain.edit(photo(), "Warmer", aspect="4:5")
    assert outcomes(trail) == [("runware", "unavailable"), ("gemini", "ok")]
    assert "refused the API key" in trail[0]["reason"]
    assert result.model == "gemini-3.1-flash-image"
    assert Image.open(io.BytesIO(result.image_bytes)).size == (
        928,
        1152,
    )  # Gemini 3 4:5 at 1K (Google table)
    assert breaker.state("runware")["failures"] == 1

    caption, trail = chain.caption(photo(), "Caption it")
    assert outcomes(trail) == [("runware", "unavailable"), ("gemini", "ok")]
    assert caption.keywords
    assert breaker.allow("runware") is False, "two failures open the circuit"
    _, trail = chain.edit(photo(), "Cooler")
    assert outcomes(trail) == [("runware", "circuit_open"), ("gemini", "ok")]


def test_both_down_local_edits(runware_sim, gemini_sim, breaker, cache):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stopped = RunwareProvider(
        url=f"ws://127.0.0.1:{port}/v1", api_key=RUNWARE_KEY, connect_attempts=1
    )
    chain = ProviderChain(
        [stopped, gemini(gemini_sim, key="revoked"), LocalProvider()], breaker, cache
    )
    image = photo()
    result, trail = chain.edit(image, "Warmer")
    assert outcomes(trail) == [
        ("runware", "unavailable"),
        ("gemini", "unavailable"),
        ("local", "ok"),
    ]
    assert "could not be reached" in trail[0]["reason"]
    assert "refused the API key" in trail[1]["reason"]
    assert result.model == "local-metrics-1"
    with pytest.raises(NoProviderAvailable) as excinfo:
        chain.caption(image, "Caption it")
    assert outcomes(excinfo.value.trail)[-1] == ("local", "unsupported")


def test_analyze_falls_through_to_local(runware_sim, gemini_sim, breaker, cache):
    chain = ProviderChain(
        [runware(runware_sim), gemini(gemini_sim), LocalProvider()], breaker, cache
    )
    result, trail = chain.analyze(photo())
    assert outcomes(trail) == [
        ("runware", "unsupported"),
        ("gemini", "unsupported"),
        ("local", "ok"),
    ]
    assert "sharpness" in result.facts
    assert breaker.state("runware")["failures"] == 0
