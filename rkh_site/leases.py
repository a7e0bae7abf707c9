"""A lease in Redis: one holder at a time for a piece of work, freed even if the holder dies.

Used where the same work may be queued twice (an image's AI task, an order's PMR drain): the
second delivery sees the lease and steps aside. Plain redis-py, no Django.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

# KEYS[1] lease key; ARGV[1] token: delete only a lease this holder still owns.
_RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@contextmanager
def exclusive(client: redis.Redis, key: str, ttl: float) -> Iterator[bool]:
    """Hold ``key`` alone for at most ``ttl`` seconds; yields False when someone else holds it.

    For work that may be queued twice (an image queued when it was ingested and
    again when its order entered processing): the second delivery sees the
    lease and steps aside instead of paying a provider a second time. A worker
    that dies holding the lease frees it when the lease runs out.
    """
    token = uuid.uuid4().hex
    held = bool(client.set(key, token, nx=True, ex=max(1, int(ttl))))
    try:
        yield held
    finally:
        if held:
            client.eval(_RELEASE_LEASE, 1, key, token)
