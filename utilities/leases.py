"""Redis leases, for work that must run once at a time.

A lease gives one holder at a time a piece of work and is freed even if the holder dies. Used
where the same work may be queued twice (an image's AI task, an order's PMR drain): the second
delivery sees the lease and steps aside. Plain redis-py, no Django; clients come from
``utilities.redis_clients``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from .redis_scripts import LEASE_RELEASE, LEASE_RENEW

log = logging.getLogger(__name__)


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
                    if not client.eval(LEASE_RENEW, 1, key, token, ttl_ms):
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
            client.eval(LEASE_RELEASE, 1, key, token)
        except redis.RedisError:
            # Redis is away: the work is done (or its own error is on its way up); the lease
            # runs out by itself within ``ttl``. Raising here would hide the outcome.
            log.warning("could not release lease %s; it expires in %.0f s", key, ttl)
