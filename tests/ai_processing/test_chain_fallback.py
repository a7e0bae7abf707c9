"""ProviderChain: fallback order, trail, breaker, cache; and the registry of providers.

``CountingProvider`` is a test double standing where an outside service would be:
it does what it is told and counts its calls.
"""

from __future__ import annotations

import io
import logging
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from PIL import Image

from ai_processing.cache import ResultCache
from ai_processing.providers.base import (
    AnalyzeResult,
    CaptionResult,
    EditResult,
    ImageInput,
    OperationNotSupported,
    Provider,
    ProviderRejected,
    ProviderUnavailable,
)
from ai_processing.providers.chain import NoProviderAvailable, ProviderChain
from ai_processing.providers.local import LocalProvider
from ai_processing.providers.registry import build_providers, chain_from_settings, parse_names
from utilities.circuit_breaker import CircuitBreaker

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"


class CountingProvider(Provider):
    def __init__(self, name: str, behaviour: str = "ok") -> None:
        self.name = name
        self.model = f"{name}-model-1"
        self.behaviour = behaviour
        self.calls = 0

    def _act(self) -> None:
        self.calls += 1
        if self.behaviour == "down":
            raise ProviderUnavailable(f"{self.name} timed out after 30 s")
        if self.behaviour == "unsupported":
            raise OperationNotSupported(f"{self.name} cannot do this")
        if self.behaviour == "rejected":
            raise ProviderRejected(f"{self.name} refused the image: too large")
        if self.behaviour == "boom":
            raise RuntimeError("unexpected reply")

    def analyze(self, image):
        self._act()
        return AnalyzeResult(facts={"by": self.name}, model=self.model, cost=0.01)

    def edit(self, image, prompt, *, aspect=None):
        self._act()
        return EditResult(
            image_bytes=f"{self.name}:{prompt}:{aspect}".encode(),
            mime_type="image/jpeg",
            model=self.model,
            cost=0.04,
            details={"prompt": prompt},
        )

    def caption(self, image, prompt):
        self._act()
        return CaptionResult(
            caption="A cup of coffee on a saucer",
            alt_text="Coffee cup seen from above",
            keywords=["coffee", "cup"],
            model=self.model,
            cost=0.002,
        )


@pytest.fixture
def client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = f"test-ai-chain-{uuid.uuid4().hex}"
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


def image(tag: str = "") -> ImageInput:
    return ImageInput.from_bytes(f"image bytes {tag} {uuid.uuid4().hex}".encode())


def test_falls_back_in_order_and_records_the_trail(breaker, cache):
    runware = CountingProvider("runware", "down")
    gemini = CountingProvider("gemini", "unsupported")
    spare = CountingProvider("spare")
    chain = ProviderChain([runware, gemini, spare], breaker, cache)

    result, trail = chain.caption(image(), "Caption for a studio catalogue")

    assert result.caption == "A cup of coffee on a saucer"
    assert [(t["provider"], t["outcome"]) for t in trail] == [
        ("runware", "unavailable"),
        ("gemini", "unsupported"),
        ("spare", "ok"),
    ]
    assert trail[0]["reason"] == "runware timed out after 30 s"
    assert trail[1]["reason"] == "gemini cannot do this"
    assert all(isinstance(t["elapsed_ms"], float) for t in trail)
    assert breaker.state("runware")["failures"] == 1
    assert breaker.state("gemini")["failures"] == 0


def test_open_circuit_is_skipped_without_a_call(breaker):
    runware = CountingProvider("runware", "down")
    spare = CountingProvider("spare")
    chain = ProviderChain([runware, spare], breaker)
    chain.analyze(image())
    chain.analyze(image())
    assert breaker.state("runware")["state"] == "open"

    _, trail = chain.analyze(image())

    assert runware.calls == 2
    assert trail[0] == {
        "provider": "runware",
        "outcome": "circuit_open",
        "reason": "circuit breaker is open",
        "elapsed_ms": 0.0,
    }
    assert trail[1]["outcome"] == "ok"


def test_rejection_moves_on_but_is_not_a_failure(breaker):
    runware = CountingProvider("runware", "rejected")
    spare = CountingProvider("spare")
    _, trail = ProviderChain([runware, spare], breaker).analyze(image())
    assert trail[0]["outcome"] == "rejected"
    assert breaker.state("runware")["failures"] == 0


def test_unexpected_error_counts_as_failure_and_falls_back(breaker, caplog):
    broken = CountingProvider("runware", "boom")
    spare = CountingProvider("spare")
    with caplog.at_level(logging.ERROR):
        _, trail = ProviderChain([broken, spare], breaker).analyze(image())
    assert trail[0]["outcome"] == "error"
    assert "unexpected reply" in trail[0]["reason"]
    assert breaker.state("runware")["failures"] == 1


def test_no_provider_available_carries_the_trail(breaker, cache):
    chain = ProviderChain(
        [CountingProvider("runware", "down"), CountingProvider("gemini", "down"), LocalProvider()],
        breaker,
        cache,
    )
    with pytest.raises(NoProviderAvailable) as excinfo:
        chain.caption(image(), "Caption it")
    trail = excinfo.value.trail
    assert [(t["provider"], t["outcome"]) for t in trail] == [
        ("runware", "unavailable"),
        ("gemini", "unavailable"),
        ("local", "unsupported"),
    ]
    assert trail[2]["reason"] == "The local provider writes no captions"
    assert "No provider could caption" in str(excinfo.value)


def test_second_call_is_served_from_the_cache(breaker, cache):
    runware = CountingProvider("runware")
    chain = ProviderChain([runware], breaker, cache)
    photo = image()

    first, first_trail = chain.edit(photo, "Brighten the faces", aspect="4:5")
    second, second_trail = chain.edit(photo, "Brighten the faces", aspect="4:5")

    assert runware.calls == 1
    assert first_trail[-1]["outcome"] == "ok"
    assert [(t["provider"], t["outcome"]) for t in second_trail] == [("runware", "cache")]
    assert second == first
    chain.edit(photo, "Brighten the faces", aspect="2:3")
    chain.edit(photo, "Warmer tones", aspect="4:5")
    assert runware.calls == 3, "another prompt or aspect is another task"


def test_result_paid_to_a_fallback_is_reused_when_the_first_recovers(client, cache):
    runware = CountingProvider("runware", "down")
    gemini = CountingProvider("gemini")
    chain = ProviderChain([runware, gemini], None, cache)
    photo = image()
    chain.analyze(photo)
    runware.behaviour = "ok"

    result, trail = chain.analyze(photo)

    assert result.facts == {"by": "gemini"}
    assert trail == [
        {
            "provider": "gemini",
            "outcome": "cache",
            "reason": "result cached earlier",
            "elapsed_ms": trail[0]["elapsed_ms"],
            "cache_key": trail[0]["cache_key"],
            # No image committed the first result (no pipeline here): its cost is still to count.
            "charged": False,
        }
    ]
    assert runware.calls == 1
    assert gemini.calls == 1


def test_local_provider_at_the_end_of_a_chain(breaker, cache):
    data = (PHOTOS / "coffee.png").read_bytes()
    chain = ProviderChain([CountingProvider("runware", "down"), LocalProvider()], breaker, cache)
    result, trail = chain.analyze(ImageInput.from_bytes(data))
    assert trail[-1] == {**trail[-1], "provider": "local", "outcome": "ok"}
    assert result.facts["exposure"]["verdict"] == "ok"
    edited, _ = chain.edit(ImageInput.from_bytes(data), "Retouch")
    assert Image.open(io.BytesIO(edited.image_bytes)).size == (600, 400)
    again, trail = chain.edit(ImageInput.from_bytes(data), "Retouch")
    assert trail[0]["outcome"] == "cache"
    assert again.image_bytes == edited.image_bytes


def test_registry_skips_providers_not_built_yet(caplog):
    assert parse_names(" Runware, gemini,local,local ") == ["runware", "gemini", "local"]
    with caplog.at_level(logging.WARNING):
        providers = build_providers("runware,gemini,local", {"local": LocalProvider})
    assert [p.name for p in providers] == ["local"]
    assert "'runware' is not available" in caplog.text
    assert "'gemini' is not available" in caplog.text
    fake = build_providers(["spare", "local"], {"spare": lambda: CountingProvider("spare")})
    assert [p.name for p in fake] == ["spare"]


def test_chain_from_settings():
    assert settings.AI_PROVIDERS == ["runware", "gemini", "local"]
    assert settings.AI_CACHE_TTL_SECONDS == 7 * 24 * 3600
    chain = chain_from_settings()
    assert [p.name for p in chain.providers] == ["runware", "gemini", "local"]
    assert chain.breaker.failures == settings.AI_BREAKER_FAILURES == 5
    assert chain.breaker.cooldown == settings.AI_BREAKER_COOLDOWN_SECONDS == 60
    assert chain.cache.ttl == settings.AI_CACHE_TTL_SECONDS
