"""The one place Redis clients are made: one client (one connection pool) per URL, timeout and
process, shared by its threads.

Redis clients are thread-safe; making one per task, request or call would open a new pool
each time on the hot path (every processed image, every PMR drain, every status read).
"""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=16)
def client_for(url: str, *, timeout: float | None = None) -> redis.Redis:
    """The process's client for ``url``; ``timeout`` (seconds, connect and read) for reads
    that must not hang (a status page), None for work that waits as long as Redis needs."""
    if timeout is None:
        return redis.Redis.from_url(url)
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def shared(*, timeout: float | None = None) -> redis.Redis:
    """The client of ``settings.REDIS_URL`` (leases, breakers, slots, caches, counters)."""
    return client_for(settings.REDIS_URL, timeout=timeout)
