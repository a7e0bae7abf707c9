"""Redis for work that must run once at a time: leases, and one client per process.

A lease gives one holder at a time a piece of work and is freed even if the holder dies. Used
where the same work may be queued twice (an image's AI task, an order's PMR drain): the second
delivery sees the lease and steps aside. Plain redis-py, no Django.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import redis

log = logging.getLogger(__name__)

# KEYS[1] lease key; ARGV[1] token: delete only a lease this holder still owns.
_RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS[1] lease key; ARGV token, ttl ms: extend only a lease this holder still owns.
_RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


@lru_cache(maxsize=8)
def client_for(url: str) -> redis.Redis:
    """One client (one connection pool) per URL and process, shared by its threads.

    Redis clients are thread-safe; making one per task or per call would open a new pool
    each time on the hot path (every processed image, every PMR drain).
    """
    return redis.Redis.from_url(url)


@contextmanager
def exclusive(client: redis.Redis, key: str, ttl: float, *, renew: bool = False) -> Iterator[bool]:
    """Hold ``key`` alone for ``ttl`` seconds; yields False when someone else holds it.

    For work that may be queued twice (an image queued when it was ingested and
    again when its order entered processing): the second delivery sees the
    lease and steps aside instead of paying a provider a second time. A worker
    that dies holding the lease frees it when the lease runs out.

    ``renew``: a heartbeat thread extends the lease every third of ``ttl`` while the holder
    runs, so work of unknown length (an order's PMR drain) keeps it, and a holder killed
    mid-work frees it within one ``ttl`` rather than after the longest possible run.
    """
    token = uuid.uuid4().hex
    ttl_ms = max(1000, int(ttl * 1000))
    if not client.set(key, token, nx=True, px=ttl_ms):
        yield False
        return
    stop = threading.Event()
    heart = None
    if renew:

        def beat() -> None:
            while not stop.wait(ttl_ms / 3000):
                try:
                    if not client.eval(_RENEW_LEASE, 1, key, token, ttl_ms):
                        log.warning("lease %s was lost", key)
                        return
                except redis.RedisError:  # a hiccup: try again at the next beat
                    log.warning("could not renew lease %s", key)

        heart = threading.Thread(target=beat, name=f"lease-{key}", daemon=True)
        heart.start()
    try:
        yield True
    finally:
        stop.set()
        if heart is not None:
            heart.join(timeout=5)
        try:
            client.eval(_RELEASE_LEASE, 1, key, token)
        except redis.RedisError:
            # Redis is away: the work is done (or its own error is on its way up); the lease
            # runs out by itself within ``ttl``. Raising here would hide the outcome.
            log.warning("could not release lease %s; it expires in %.0f s", key, ttl)
