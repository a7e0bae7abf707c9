"""The per-provider concurrency limit, shared through Redis (threads stand in for workers)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis
from django.conf import settings

from ai_processing.limits import LimitedProvider, ProviderSemaphore
from ai_processing.providers.base import (
    AnalyzeResult,
    ImageInput,
    Provider,
    ProviderUnavailable,
)


@pytest.fixture
def prefix():
    prefix = f"test-ai-slots-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def semaphore(prefix: str, limits: dict[str, int], **kwargs) -> ProviderSemaphore:
    """Each caller its own connection, as separate worker processes would have."""
    return ProviderSemaphore(
        redis.Redis.from_url(settings.REDIS_URL), limits, prefix=prefix, **kwargs
    )


class Slow(Provider):
    """Counts how many of its calls run at once."""

    name = "slowprov"
    model = "slow-1"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls = 0

    def analyze(self, image: ImageInput) -> AnalyzeResult:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.peak = max(self.peak, self.running)
        time.sleep(0.1)
        with self.lock:
            self.running -= 1
        return AnalyzeResult(facts={}, model=self.model)

    def edit(self, image, prompt, *, aspect=None):  # pragma: no cover - not used
        raise NotImplementedError

    def caption(self, image, prompt):  # pragma: no cover - not used
        raise NotImplementedError


def test_no_more_calls_in_flight_than_the_limit(prefix):
    inner = Slow()
    image = ImageInput.from_bytes(b"x")
    errors: list[BaseException] = []

    def work() -> None:
        provider = LimitedProvider(inner, semaphore(prefix, {"slowprov": 3}, poll=0.01))
        try:
            for _ in range(3):
                provider.analyze(image)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert inner.calls == 30
    assert inner.peak == 3
    assert semaphore(prefix, {"slowprov": 3}).in_use("slowprov") == 0


def test_a_full_provider_is_unavailable_after_the_wait(prefix):
    holder = semaphore(prefix, {"slowprov": 1})
    token = holder.acquire("slowprov")
    assert token is not None
    provider = LimitedProvider(Slow(), semaphore(prefix, {"slowprov": 1}, wait=0.2))
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="slowprov is busy"):
        provider.analyze(ImageInput.from_bytes(b"x"))
    assert 0.2 <= time.monotonic() - started < 2
    holder.release("slowprov", token)
    provider.analyze(ImageInput.from_bytes(b"x"))


def test_a_dead_holder_frees_its_slot_when_the_lease_ends(prefix):
    crashed = semaphore(prefix, {"slowprov": 1}, lease=0.3)
    assert crashed.acquire("slowprov") is not None  # never released
    other = semaphore(prefix, {"slowprov": 1}, lease=0.3)
    assert other.acquire("slowprov", wait=0) is None
    assert other.acquire("slowprov", wait=2) is not None


def test_providers_without_a_limit_are_not_counted(prefix):
    sem = semaphore(prefix, {"runware": 0})
    with sem.slot("runware"), sem.slot("runware"), sem.slot("local"):
        assert sem.in_use("runware") == 0


# --- slots across an outage (issue 11, item 6) -----------------------------------------


def test_a_slot_is_kept_while_its_call_runs_longer_than_the_lease(prefix):
    """A short lease, renewed while the call runs: a long call keeps its slot."""
    holder = semaphore(prefix, {"slowprov": 1}, lease=0.3)
    other = semaphore(prefix, {"slowprov": 1}, lease=0.3)
    with holder.slot("slowprov"):
        time.sleep(1.0)  # more than three leases
        assert other.acquire("slowprov", wait=0) is None
    assert other.acquire("slowprov", wait=0) is not None


def test_the_settings_free_a_killed_tasks_slots_within_the_slot_lease(prefix, settings):
    """Slots of a task that died (a killed worker, an outage) come free within
    AI_SLOT_LEASE_SECONDS, not after a ten-minute lease."""
    from ai_processing.limits import semaphore_from_settings

    settings.AI_SLOT_LEASE_SECONDS = 1
    settings.AI_PROVIDER_CONCURRENCY = {"slowprov": 1}
    dead = semaphore_from_settings(redis.Redis.from_url(settings.REDIS_URL))
    dead.prefix = prefix
    assert dead.acquire("slowprov") is not None  # its holder dies: never renewed or released
    alive = semaphore_from_settings(redis.Redis.from_url(settings.REDIS_URL))
    alive.prefix = prefix
    started = time.monotonic()
    assert alive.acquire("slowprov", wait=5) is not None
    assert time.monotonic() - started < 2


class AnalyzesNothing(Slow):
    """A provider without analysis (as Runware and Gemini): it refuses at once."""

    name = "noanalysis"
    operations = frozenset({"edit", "caption"})

    def analyze(self, image: ImageInput) -> AnalyzeResult:
        from ai_processing.providers.base import OperationNotSupported

        raise OperationNotSupported("no analysis here")


def test_no_slot_is_taken_for_an_operation_the_provider_cannot_do(prefix):
    from ai_processing.providers.base import OperationNotSupported

    full = semaphore(prefix, {"noanalysis": 1})
    assert full.acquire("noanalysis") is not None  # every slot taken
    provider = LimitedProvider(AnalyzesNothing(), semaphore(prefix, {"noanalysis": 1}, wait=5))
    started = time.monotonic()
    with pytest.raises(OperationNotSupported):
        provider.analyze(ImageInput.from_bytes(b"x"))
    assert time.monotonic() - started < 0.5  # no wait for a slot it would not use


def test_runware_and_gemini_say_they_cannot_analyze():
    from ai_processing.providers.gemini import GeminiProvider
    from ai_processing.providers.local import LocalProvider
    from ai_processing.providers.runware import RunwareProvider

    assert "analyze" not in RunwareProvider.operations
    assert "analyze" not in GeminiProvider.operations
    assert "caption" not in LocalProvider.operations
