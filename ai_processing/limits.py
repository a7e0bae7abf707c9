"""How many calls each AI provider has in flight, shared by every worker through Redis.

A counting semaphore per provider name: a sorted set of slot tokens scored by
the moment their lease runs out. Taking a slot is one Lua script (drop expired
leases, count, add if under the limit) using Redis's own clock, so workers on
different machines agree and a worker that died holding a slot frees it when
the lease ends. The lease is short (``AI_SLOT_LEASE_SECONDS``) and renewed by
a heartbeat while the call runs, so a call of any length keeps its slot and a
killed worker's slots come free within one lease, not after the longest
possible call (600 s leases of dead tasks stalled an order for minutes after
an outage, issue 11). ``LimitedProvider`` wraps a provider so that every call
of the fallback chain holds a slot, except calls of operations the provider
cannot do at all (they fail at once); a provider that stays full for ``wait``
seconds is reported unavailable and the chain moves on. Plain redis-py.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import redis
from django.conf import settings

from utilities.redis_clients import shared
from utilities.redis_scripts import SLOT_ACQUIRE, SLOT_RENEW

from .providers.base import (
    AnalyzeResult,
    CaptionResult,
    EditResult,
    ImageInput,
    Provider,
    ProviderUnavailable,
)
from .providers.chain import ProviderChain
from .providers.registry import chain_from_settings

log = logging.getLogger(__name__)


class SlotTimeout(Exception):
    """Every slot of the provider stayed taken for the whole wait."""


class ProviderSemaphore:
    def __init__(
        self,
        client: redis.Redis,
        limits: Mapping[str, int],
        *,
        lease: float = 30.0,
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
        self._acquire = client.register_script(SLOT_ACQUIRE)
        self._renew = client.register_script(SLOT_RENEW)

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

    def renew(self, name: str, token: str) -> bool:
        """Extend the lease of a slot still held; False when it ran out (or was never taken)."""
        if self.limit(name) is None:
            return True
        return bool(self._renew(keys=[self._key(name)], args=[self.lease, token]))

    @contextmanager
    def slot(self, name: str, *, wait: float | None = None) -> Iterator[None]:
        """Hold one slot of ``name`` while the block runs, its lease renewed every third of
        ``lease``; ``SlotTimeout`` when none came free within ``wait`` seconds."""
        token = self.acquire(name, wait=wait)
        if token is None:
            raise SlotTimeout(name)
        stop = threading.Event()
        heart = None
        if self.limit(name) is not None:

            def beat() -> None:
                while not stop.wait(self.lease / 3):
                    try:
                        if not self.renew(name, token):
                            log.warning("AI slot of %s was lost (lease ran out)", name)
                            return
                    except redis.RedisError:  # a hiccup: the next beat tries again
                        log.warning("could not renew an AI slot of %s", name)

            heart = threading.Thread(target=beat, name=f"slot-{name}", daemon=True)
            heart.start()
        try:
            yield
        finally:
            stop.set()
            if heart is not None:
                heart.join(timeout=5)
            try:
                self.release(name, token)
            except redis.RedisError:  # the lease runs out by itself
                log.warning("could not release an AI slot of %s", name)


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

    @property
    def operations(self) -> frozenset[str]:  # type: ignore[override]
        return self.inner.operations

    @contextmanager
    def _slot_for(self, operation: str) -> Iterator[None]:
        if operation not in self.inner.operations:
            yield  # it refuses at once (OperationNotSupported): no slot is worth taking
            return
        with self._slot():
            yield

    def analyze(self, image: ImageInput) -> AnalyzeResult:
        with self._slot_for("analyze"):
            return self.inner.analyze(image)

    def edit(self, image: ImageInput, prompt: str, *, aspect: str | None = None) -> EditResult:
        with self._slot_for("edit"):
            return self.inner.edit(image, prompt, aspect=aspect)

    def caption(self, image: ImageInput, prompt: str) -> CaptionResult:
        with self._slot_for("caption"):
            return self.inner.caption(image, prompt)

    def upscale(self, image: ImageInput, factor: int) -> EditResult:
        with self._slot_for("upscale"):
            return self.inner.upscale(image, factor)

    def model_for(self, operation: str) -> str:
        return self.inner.model_for(operation)


def semaphore_from_settings(client: redis.Redis | None = None) -> ProviderSemaphore:
    client = client or shared()
    return ProviderSemaphore(
        client,
        settings.AI_PROVIDER_CONCURRENCY or {},
        lease=float(settings.AI_SLOT_LEASE_SECONDS),
        wait=float(settings.AI_SLOT_WAIT_SECONDS),
    )


def limited_chain() -> ProviderChain:
    """The settings' provider chain, each provider behind its concurrency slots: what the
    pipeline and the upscale step run through (one Redis client for breaker and slots)."""
    chain = chain_from_settings()
    semaphore = semaphore_from_settings(getattr(chain.breaker, "client", None))
    chain.providers = [LimitedProvider(p, semaphore) for p in chain.providers]
    return chain
