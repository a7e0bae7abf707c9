"""Providers by name, and the chain built from the ``AI_PROVIDERS`` setting.

``PROVIDER_FACTORIES`` maps a name to a zero-argument factory; the Runware and
Gemini providers add themselves here when they exist. A name with no factory
is skipped with a warning, so a setting can list providers ahead of their code.
``chain_from_settings`` is the only Django-aware function (imported lazily).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from .base import Provider
from .chain import ProviderChain
from .local import LocalProvider

log = logging.getLogger(__name__)

PROVIDER_FACTORIES: dict[str, Callable[[], Provider]] = {
    "local": LocalProvider,
}


def parse_names(value: str | Iterable[str]) -> list[str]:
    """``"runware, gemini,local"`` or a list → ``["runware", "gemini", "local"]`` (no repeats)."""
    items = value.split(",") if isinstance(value, str) else value
    names: list[str] = []
    for item in items:
        name = item.strip().lower()
        if name and name not in names:
            names.append(name)
    return names


def build_providers(
    names: str | Iterable[str],
    factories: dict[str, Callable[[], Provider]] | None = None,
) -> list[Provider]:
    factories = PROVIDER_FACTORIES if factories is None else factories
    providers = []
    for name in parse_names(names):
        factory = factories.get(name)
        if factory is None:
            log.warning("AI provider %r is not available in this build; skipped", name)
            continue
        providers.append(factory())
    return providers


def chain_from_settings() -> ProviderChain:
    """The chain of ``settings.AI_PROVIDERS``, with the Redis breaker and cache."""
    import redis
    from django.conf import settings

    from ..breaker import CircuitBreaker
    from ..cache import ResultCache

    client = redis.Redis.from_url(settings.REDIS_URL)
    return ProviderChain(
        build_providers(settings.AI_PROVIDERS),
        breaker=CircuitBreaker(
            client,
            failures=settings.AI_BREAKER_FAILURES,
            cooldown=settings.AI_BREAKER_COOLDOWN_SECONDS,
        ),
        cache=ResultCache(client, ttl=settings.AI_CACHE_TTL_SECONDS),
    )
