"""Providers by name, and the chain built from the ``AI_PROVIDERS`` setting.

``PROVIDER_FACTORIES`` maps a name to a zero-argument factory. A name with no
factory is skipped with a warning, so a setting can list providers ahead of
their code. The "runware" and "gemini" factories read Django settings (lazily):
with no API key configured they return a provider pointed at the local
simulator with the key "simulator" (what ``make run`` starts when no real
credentials are set). ``chain_from_settings`` builds the whole chain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from utilities import breakers

from ..cache import ResultCache
from .base import Provider
from .chain import ProviderChain
from .local import LocalProvider

log = logging.getLogger(__name__)

#: Where the local simulators listen (the Procfile's runware-sim and gemini-sim).
RUNWARE_SIMULATOR_URL = "ws://127.0.0.1:56791/v1"
GEMINI_SIMULATOR_URL = "http://127.0.0.1:56792"
SIMULATOR_KEY = "simulator"


def runware_from_settings() -> Provider:
    from django.conf import settings

    # Its client (websockets) loads only when the chain names this provider.
    from .runware import RunwareProvider

    key, url = settings.RUNWARE_API_KEY, settings.RUNWARE_URL
    if not key:
        key = SIMULATOR_KEY
        if "runware.ai" in url:
            log.warning("RUNWARE_API_KEY is not set: using the local Runware simulator")
            url = RUNWARE_SIMULATOR_URL
    options = {"url": url, "api_key": key, "model": settings.RUNWARE_MODEL}
    options["upscale_model"] = settings.RUNWARE_UPSCALE_MODEL or None
    try:
        return RunwareProvider(
            **options,
            hires_model=settings.RUNWARE_EDIT_MODEL_HIRES or None,
            hires_resolution=settings.RUNWARE_EDIT_HIRES_RESOLUTION or "4K",
        )
    except ValueError as exc:  # a mistyped model or tier must not stop every image
        log.error("RUNWARE_EDIT_MODEL_HIRES ignored: %s", exc)
        return RunwareProvider(**options)


def gemini_from_settings() -> Provider:
    from django.conf import settings

    # Its client (httpx) loads only when the chain names this provider.
    from .gemini import GeminiProvider

    key, base_url = settings.GEMINI_API_KEY, settings.GEMINI_BASE_URL
    if not key:
        key = SIMULATOR_KEY
        if not base_url or "googleapis.com" in base_url:
            log.warning("GEMINI_API_KEY is not set: using the local Gemini simulator")
            base_url = GEMINI_SIMULATOR_URL
    options = {"api_key": key, "base_url": base_url or None, "model": settings.GEMINI_MODEL}
    try:
        return GeminiProvider(**options, image_size=settings.GEMINI_IMAGE_SIZE or None)
    except ValueError as exc:  # a mistyped size must not stop every image
        log.error("GEMINI_IMAGE_SIZE ignored: %s", exc)
        return GeminiProvider(**options)


PROVIDER_FACTORIES: dict[str, Callable[[], Provider]] = {
    "runware": runware_from_settings,
    "gemini": gemini_from_settings,
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
    from django.conf import settings

    breaker = breakers.ai_breaker()  # built once per process, its client shared
    return ProviderChain(
        build_providers(settings.AI_PROVIDERS),
        breaker=breaker,
        cache=ResultCache(breaker.client, ttl=settings.AI_CACHE_TTL_SECONDS),
    )
