"""Redis leases, for work that must run once at a time.

A lease gives one holder at a time a piece of work and is freed even if the holder dies. Used
where the same work may be queued twice (an image's AI task, an order's PMR drain): the second
delivery sees the lease and steps aside. Plain redis-py, no Django; clients come from
``utilities.redis_clients``.

A lease may also leave a **claim** (``Claim``): a member of a Redis set, added with the lease
and removed with it. A holder killed mid-work cannot remove it, and its lease runs out by
itself: a claim whose lease is gone (``orphans``) names work whose worker died, to be queued
again at once, instead of when a sweep finds the work unmoved for a long time (a sweep cannot
tell work lost with its worker from work waiting its turn in a long queue).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from .redis_scripts import (
    CLAIM_ORPHANED,
    LEASE_ACQUIRE,
    LEASE_RELEASE,
    LEASE_RENEW,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """``member`` of the Redis set ``claims`` while the lease is held (see the module)."""

    claims: str
    member: str


@contextmanager
def exclusive(
    client: redis.Redis, key: str, ttl: float, *, renew: bool = False, claim: Claim | None = None
) -> Iterator[bool]:
    """Hold ``key`` alone for ``ttl`` seconds; yields False when someone else holds it.

    For work that may be queued twice (an image queued when it was ingested and
    again when its order entered processing): the second delivery sees the
    lease and steps aside instead of paying a provider a second time. A worker
    that dies holding the lease frees it when the lease runs out.

    ``renew``: a heartbeat thread extends the lease every third of ``ttl`` while the holder
    runs, so work of unknown length (an order's PMR drain) keeps it, and a holder killed
    mid-work frees it within one ``ttl`` rather than after the longest possible run. A lease
    that ran out while its holder was stalled (a starved machine) and that nobody took since is
    taken back at the next beat, so a sweep does not hand the work to a second worker.

    ``claim``: leave that claim while the lease is held (``orphans`` finds it if the holder
    dies).
    """
    token = uuid.uuid4().hex
    ttl_ms = max(1000, int(ttl * 1000))
    # The scripts' KEYS and ARGV (utilities.redis_scripts): the claim's, when there is one.
    keys = (key, claim.claims) if claim else (key,)
    argv = (token, ttl_ms, claim.member if claim else "")
    if not client.eval(LEASE_ACQUIRE, len(keys), *keys, *argv):
        yield False
        return
    stop = threading.Event()
    heart = None
    if renew:

        def beat() -> None:
            while not stop.wait(ttl_ms / 3000):
                try:
                    renewed = client.eval(LEASE_RENEW, len(keys), *keys, *argv)
                except redis.RedisError:  # a hiccup: try again at the next beat
                    log.warning("could not renew lease %s", key)
                    continue
                if renewed == 2:  # this process was stalled past the lease (a starved machine)
                    log.warning("lease %s had run out while held; taken back", key)
                elif not renewed:
                    log.warning("lease %s was lost to another holder", key)
                    return

        heart = threading.Thread(target=beat, name=f"lease-{key}", daemon=True)
        heart.start()
    try:
        yield True
    finally:
        stop.set()
        if heart is not None:
            heart.join(timeout=5)
        try:
            client.eval(LEASE_RELEASE, len(keys), *keys, *argv)
        except redis.RedisError:
            # Redis is away: the work is done (or its own error is on its way up); the lease
            # runs out by itself within ``ttl``. Raising here would hide the outcome.
            log.warning("could not release lease %s; it expires in %.0f s", key, ttl)


def orphans(client: redis.Redis, claims: str, lease_key: Callable[[str], str]) -> list[str]:
    """The members of ``claims`` whose lease (``lease_key(member)``) nobody holds: their holder
    died mid-work. Each is taken off the set as it is returned, so two sweeps never both
    return it; a member claimed again meanwhile (its lease held) stays."""
    found = []
    for raw in client.smembers(claims):
        member = raw.decode() if isinstance(raw, bytes) else str(raw)
        if client.eval(CLAIM_ORPHANED, 2, lease_key(member), claims, member):
            found.append(member)
    return found
