"""How the AI providers are doing: their circuits and the ``ai`` queue's depth.

One place for what ``GET /api/v1/ai/status`` answers and what the dashboard's
"Needs attention" panel (``ai_processing.attention``) shows, read with a Redis
client that gives up after a few seconds (a status read must not hang).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings

from rkh_site.circuit_breaker import CircuitBreaker

from .providers.registry import parse_names

log = logging.getLogger(__name__)

#: The Celery queue the AI tasks are routed to (``CELERY_TASK_ROUTES``).
AI_QUEUE = "ai"
#: Seconds a status read waits for Redis.
REDIS_TIMEOUT = 5


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )


def configured() -> list[str]:
    """The providers of ``AI_PROVIDERS``, in chain order."""
    return parse_names(settings.AI_PROVIDERS)


def provider_states() -> list[dict[str, Any]]:
    """Each configured provider's circuit (``CircuitBreaker.state``), in chain order; state
    "unknown" with the error's name when Redis cannot be read."""
    names = configured()
    try:
        breaker = CircuitBreaker(
            _client(settings.REDIS_URL),
            failures=settings.AI_BREAKER_FAILURES,
            cooldown=settings.AI_BREAKER_COOLDOWN_SECONDS,
        )
        return [breaker.state(name) for name in names]
    except redis.RedisError as exc:
        log.warning("AI status: breaker state unavailable", exc_info=True)
        return [
            {"provider": name, "state": "unknown", "error": type(exc).__name__} for name in names
        ]


def queue_depth() -> dict[str, Any]:
    """``{"name": "ai", "depth": n}`` (``depth`` None and ``error`` when unreadable)."""
    queue: dict[str, Any] = {"name": AI_QUEUE, "depth": None}
    try:
        queue["depth"] = int(_client(settings.CELERY_BROKER_URL).llen(AI_QUEUE))
    except (redis.RedisError, ValueError) as exc:
        log.warning("AI status: queue depth unavailable", exc_info=True)
        queue["error"] = type(exc).__name__
    return queue
