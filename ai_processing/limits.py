"""How many calls each AI provider has in flight, shared by every worker through Redis.

A counting semaphore per provider name: a sorted set of slot tokens scored by
the moment their lease runs out. Taking a slot is one Lua script (drop expired
leases, count, add if under the limit) using Redis's own clock, so workers on
different machines agree and a worker that died holding a slot frees it when
the lease ends. ``LimitedProvider`` wraps a provider so that every call of
the fallback chain holds a slot; a provider that stays full for ``wait``
seconds is reported unavailable and the chain moves on. Plain redis-py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import redis

from .providers.base import (
    AnalyzeResult,
    CaptionResult,
    EditResult,
    ImageInput,
    Provider,
    ProviderUnavailable,
)

# KEYS[1] slot set; ARGV: limit, lease seconds, token. 1 when the slot was taken.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60)
  return 1
end
return 0
"""


class SlotTimeout(Exception):
    """Every slot of the provider stayed taken for the whole wait."""


class ProviderSemaphore:
    def __init__(
        self,
        client: redis.Redis,
        limits: Mapping[str, int],
        *,
        lease: float = 600.0,
        wait: float = 300.0,
        poll: float = 0.05,
        prefix: str = "rkh:ai:slots",
    ) -> None:
        self.client = client
        self.limits = {str(k).lower(): int(v) for k, v in limits.items()}
        self.lease = lease
        self.wait = wait
        self.poll = poll
        self.prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def limit(self, name: str) -> int | None:
        """The provider's limit, or None (no limit) when not configured or not positive."""
        value = self.limits.get(name.lower())
        return value if value and value > 0 else None

    def acquire(self, name: str, *, wait: float | None = None) -> str | None:
        """A slot token, or None when every slot stayed taken for ``wait`` seconds."""
        limit = self.limit(name)
        token = uuid.uuid4().hex
        if limit is None:
            return token
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        while True:
            if self._acquire(keys=[self._key(name)], args=[limit, self.lease, token]):
                return token
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll)

    def release(self, name: str, token: str) -> None:
        if self.limit(name) is not None:
            self.client.zrem(self._key(name), token)

    def in_use(self, name: str) -> int:
        """Slots held now (leases not yet run out)."""
        now = time.time()
        return int(self.client.zcount(self._key(name), now, "+inf"))

    @contextmanager
    def slot(self, name: str, *, wait: float | None = None) -> Iterator[None]:
        token = self.acquire(name, wait=wait)
        if token is None:
            raise SlotTimeout(name)
        try:
            yield
        finally:
            self.release(name, token)


class LimitedProvider(Provider):
    """A provider whose every call holds one of its slots; same name and model (cache keys)."""

    def __init__(self, inner: Provider, semaphore: ProviderSemaphore) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.model = inner.model
        self.semaphore = semaphore

    @contextmanager
    def _slot(self) -> Iterator[None]:
        try:
            with self.semaphore.slot(self.name):
                yield
        except SlotTimeout:
            raise ProviderUnavailable(
                f"{self.name} is busy: all {self.semaphore.limit(self.name)} slots stayed "
                f"taken for {self.semaphore.wait:.0f} s"
            ) from None

    def analyze(self, image: ImageInput) -> AnalyzeResult:
        with self._slot():
            return self.inner.analyze(image)

    def edit(self, image: ImageInput, prompt: str, *, aspect: str | None = None) -> EditResult:
        with self._slot():
            return self.inner.edit(image, prompt, aspect=aspect)

    def caption(self, image: ImageInput, prompt: str) -> CaptionResult:
        with self._slot():
            return self.inner.caption(image, prompt)


def semaphore_from_settings(client: redis.Redis | None = None) -> ProviderSemaphore:
    from django.conf import settings

    from rkh_site.leases import client_for

    client = client or client_for(settings.REDIS_URL)
    return ProviderSemaphore(client, settings.AI_PROVIDER_CONCURRENCY or {})
