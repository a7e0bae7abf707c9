"""The fallback chain: one operation, tried provider by provider, cached, behind breakers.

``ProviderChain.run("edit", image, prompt=..., aspect=...)`` first looks in the
result cache under every provider of the chain (a result already paid for is
reused, whoever made it), then calls the providers in order:

- circuit open → skipped ("circuit_open");
- ``ProviderUnavailable`` or an unexpected error → a failure for the breaker, next;
- ``OperationNotSupported`` → next, recorded as "unsupported";
- ``ProviderRejected`` → next (another provider may accept it), not a breaker failure;
- success → breaker success, result cached, returned with the trail.

The trail (a list of ``{provider, outcome, reason, elapsed_ms}``) goes into the
image's ``ai_metadata``. When nothing succeeded, ``NoProviderAvailable`` carries
it, and the pipeline moves the image to manual review. No Django here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

import redis

from ..cache import cache_key
from .base import (
    OPERATIONS,
    RESULT_TYPES,
    ImageInput,
    OperationNotSupported,
    Provider,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    Result,
)

log = logging.getLogger(__name__)


class NoProviderAvailable(Exception):
    """No provider of the chain could do the operation; ``trail`` says why, one by one."""

    def __init__(self, operation: str, trail: list[dict[str, Any]]) -> None:
        reasons = "; ".join(f"{t['provider']}: {t['outcome']}" for t in trail) or "no providers"
        super().__init__(f"No provider could {operation} this image ({reasons})")
        self.operation = operation
        self.trail = trail


class Breaker(Protocol):
    def allow(self, name: str) -> bool: ...
    def record_success(self, name: str) -> None: ...
    def record_failure(self, name: str) -> int: ...
    def release(self, name: str) -> None: ...


class Cache(Protocol):
    def get(self, key: str) -> tuple[dict[str, Any], bytes | None] | None: ...
    def set(self, key: str, payload: dict[str, Any], blob: bytes | None = None) -> bool: ...


class ProviderChain:
    def __init__(
        self,
        providers: Sequence[Provider],
        breaker: Breaker | None = None,
        cache: Cache | None = None,
    ) -> None:
        self.providers = list(providers)
        self.breaker = breaker
        self.cache = cache

    # Convenience wrappers: the three operations of the interface.
    def analyze(self, image: ImageInput) -> tuple[Result, list[dict[str, Any]]]:
        return self.run("analyze", image)

    def edit(
        self, image: ImageInput, prompt: str, *, aspect: str | None = None
    ) -> tuple[Result, list[dict[str, Any]]]:
        return self.run("edit", image, prompt=prompt, aspect=aspect)

    def caption(self, image: ImageInput, prompt: str) -> tuple[Result, list[dict[str, Any]]]:
        return self.run("caption", image, prompt=prompt)

    def upscale(self, image: ImageInput, factor: int) -> tuple[Result, list[dict[str, Any]]]:
        return self.run("upscale", image, factor=factor)

    def run(
        self,
        operation: str,
        image: ImageInput,
        *,
        prompt: str = "",
        aspect: str | None = None,
        factor: int | None = None,
        fresh: bool = False,
    ) -> tuple[Result, list[dict[str, Any]]]:
        """``(result, trail)``; raises ``NoProviderAvailable(trail)`` when nothing could do it.

        ``fresh`` skips reading the cache (the new result is still stored): for a
        person's explicit "redo", which asks for new work, not the answer already
        rejected.
        """
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        if operation == "upscale" and factor is None:
            raise ValueError("upscale needs a factor")
        options: dict[str, Any] | None = None
        if operation == "edit":
            options = {"aspect": aspect}
        elif operation == "upscale":
            options = {"factor": factor}
        keys = {p.name: _key(image, operation, prompt, p, options) for p in self.providers}
        cached = None if fresh else self._from_cache(operation, keys)
        if cached is not None:
            return cached
        trail: list[dict[str, Any]] = []
        for provider in self.providers:
            name = provider.name
            if self.breaker is not None and not self.breaker.allow(name):
                trail.append(_step(name, "circuit_open", "circuit breaker is open", 0.0))
                continue
            started = time.perf_counter()
            try:
                result = _call(provider, operation, image, prompt, aspect, factor)
            except (ProviderUnavailable, ProviderRejected, OperationNotSupported) as exc:
                trail.append(_step(name, exc.outcome, exc.reason, started))
                self._settle(name, exc)
                continue
            except redis.RedisError:
                # Redis is away (a slot, a lease): not the provider's fault and not the image's;
                # the pipeline's task retries the whole step once Redis is back.
                raise
            except Exception as exc:
                # A bug or an unexpected reply: count it as a failure and move on.
                log.exception("AI provider %s failed on %s", name, operation)
                trail.append(_step(name, "error", f"{type(exc).__name__}: {exc}", started))
                self._settle(name, exc)
                continue
            trail.append(_step(name, "ok", "", started))
            if self.cache is not None:
                trail[-1]["cache_key"] = keys[name]  # so the pipeline marks its cost counted
            if self.breaker is not None:
                self.breaker.record_success(name)
            if self.cache is not None:
                payload, blob = result.to_cache()
                try:
                    self.cache.set(keys[name], payload, blob)
                except Exception:
                    log.warning("AI result cache unavailable; result not cached", exc_info=True)
            return result, trail
        raise NoProviderAvailable(operation, trail)

    def _from_cache(
        self, operation: str, keys: dict[str, str]
    ) -> tuple[Result, list[dict[str, Any]]] | None:
        if self.cache is None:
            return None
        for name, key in keys.items():
            started = time.perf_counter()
            try:
                entry = (
                    self.cache.get_entry(key)
                    if hasattr(self.cache, "get_entry")
                    else _charged(self.cache.get(key))
                )
            except Exception:
                log.warning("AI result cache unavailable; calling providers", exc_info=True)
                return None
            if entry is None:
                continue
            payload, blob, charged = entry
            try:
                result = RESULT_TYPES[operation].from_cache(payload, blob)
            except (KeyError, TypeError):
                continue
            step = _step(name, "cache", "result cached earlier", started)
            # Uncharged: paid by a call whose image never committed (a killed worker); the
            # pipeline counts it now (docs/ai.md, "Costs").
            step.update({"cache_key": key, "charged": charged})
            return result, [step]
        return None

    def _settle(self, name: str, exc: Exception) -> None:
        if self.breaker is None:
            return
        if isinstance(exc, OperationNotSupported):
            self.breaker.release(name)  # proved nothing about the service
        elif isinstance(exc, ProviderRejected):
            self.breaker.record_success(name)  # it answered: it is up
        else:
            self.breaker.record_failure(name)


def _charged(hit: tuple[dict[str, Any], bytes | None] | None):
    """A cache without charge marks: every hit counts as charged (paid for earlier)."""
    return None if hit is None else (hit[0], hit[1], True)


def _key(image: ImageInput, operation: str, prompt: str, provider: Provider, options: Any) -> str:
    model = provider.model_for(operation)
    return cache_key(image.sha256, operation, prompt, provider.name, model, options)


def _call(
    provider: Provider,
    operation: str,
    image: ImageInput,
    prompt: str,
    aspect: str | None,
    factor: int | None = None,
) -> Result:
    if operation == "analyze":
        return provider.analyze(image)
    if operation == "edit":
        return provider.edit(image, prompt, aspect=aspect)
    if operation == "upscale":
        assert factor is not None
        return provider.upscale(image, factor)
    return provider.caption(image, prompt)


def _step(name: str, outcome: str, reason: str, started: float) -> dict[str, Any]:
    elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
    return {"provider": name, "outcome": outcome, "reason": reason, "elapsed_ms": round(elapsed, 1)}


__all__ = ["NoProviderAvailable", "ProviderChain", "ProviderError"]
