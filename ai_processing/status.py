"""How the AI providers are doing: their circuits and the ``ai`` queue's depth.

One place for what ``GET /api/v1/ai/status`` answers and what the dashboard's
"Needs attention" panel (``ai_processing.attention``) shows, read with a Redis
client that gives up after a few seconds (a status read must not hang).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings

from utilities.breakers import ai_breaker
from utilities.redis_clients import client_for

from .providers.registry import parse_names

log = logging.getLogger(__name__)

#: The Celery queue the AI tasks are routed to (``CELERY_TASK_ROUTES``).
AI_QUEUE = "ai"
#: Seconds a status read waits for Redis.
REDIS_TIMEOUT = 5


def configured() -> list[str]:
    """The providers of ``AI_PROVIDERS``, in chain order."""
    return parse_names(settings.AI_PROVIDERS)


def provider_states() -> list[dict[str, Any]]:
    """Each configured provider's circuit (``CircuitBreaker.state``), in chain order; state
    "unknown" with the error's name when Redis cannot be read."""
    names = configured()
    try:
        breaker = ai_breaker(timeout=REDIS_TIMEOUT)
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
        broker = client_for(settings.CELERY_BROKER_URL, timeout=REDIS_TIMEOUT)
        queue["depth"] = int(broker.llen(AI_QUEUE))
    except (redis.RedisError, ValueError) as exc:
        log.warning("AI status: queue depth unavailable", exc_info=True)
        queue["error"] = type(exc).__name__
    return queue
