"""Request rate limit of the REST API: ``API_THROTTLE_RATE`` per user (default 100/minute).

Counted in the Django cache (Redis), so every web process shares one count
per user. DRF's own ``UserRateThrottle`` keeps a list of timestamps that it
reads, changes and writes back: two parallel requests both read the old list
and one of them goes uncounted. Here each request is one atomic ``INCR`` on
a per-window counter, and the previous window's count is weighted by how
much of it still overlaps the last period (a sliding-window estimate), so a
client cannot send two full allowances across a window boundary either.

While Redis is away the limit fails open (logged once a minute): counting needs Redis, and
refusing every request would make a Redis restart an outage of the whole API.

Requests with an API key or a session are counted per user (all keys of one
user share the allowance); anonymous ones per client address (``REMOTE_ADDR``:
the address a reverse proxy sets, never a header the client could forge).
The rate is read from the settings at each request, so tests can change it.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from utilities.infrastructure import REDIS_ERRORS

log = logging.getLogger(__name__)
_last_warning = [0.0]


def _log_open_once(now: float) -> None:
    if now - _last_warning[0] >= 60:
        _last_warning[0] = now
        log.warning("API rate limit not counted: Redis is not answering (requests let through)")


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"100/minute"`` → ``(100, 60)``; empty or ``"0"``-requests means no limit."""
    if not rate:
        return None
    number, _, period = str(rate).partition("/")
    count = int(number)
    if count <= 0:
        return None
    return count, _PERIODS[(period.strip() or "m")[0].lower()]


class UserRateThrottle(BaseThrottle):
    """At most ``API_THROTTLE_RATE`` requests per user and period; 429 with ``Retry-After``."""

    cache_prefix = "api-throttle"

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def ident(self, request) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"addr:{request.META.get('REMOTE_ADDR', '')}"

    def allow_request(self, request, view) -> bool:
        parsed = parse_rate(getattr(settings, "API_THROTTLE_RATE", None))
        if parsed is None:
            return True
        limit, period = parsed
        now = time.time()
        window = int(now // period)
        key = f"{self.cache_prefix}:{self.ident(request)}"
        current_key, previous_key = f"{key}:{window}", f"{key}:{window - 1}"
        try:
            current, previous = self._counts(current_key, previous_key, timeout=2 * period + 1)
        except REDIS_ERRORS:
            # Fail open: while Redis restarts nobody can be counted, and refusing every
            # request would turn a Redis blip into an outage of the whole API (reads that
            # need only the database keep working). Logged, at most once a minute.
            _log_open_once(now)
            return True
        into_window = (now % period) / period
        if previous * (1 - into_window) + current <= limit:
            return True
        self.retry_after = self._wait(limit, period, into_window, previous, current)
        return False

    @classmethod
    def _counts(cls, current_key: str, previous_key: str, timeout: int) -> tuple[int, int]:
        """This request counted in the current window, and the previous window's count.

        One Redis round trip (a pipeline: create the counter with its expiry if missing,
        ``INCR`` it, read the previous one) instead of four through the cache API (its
        ``incr`` asks whether the key exists first). Other cache backends: the cache API.
        """
        client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
        if client_of is None:
            return cls._count(current_key, timeout), int(cache.get(previous_key) or 0)
        current = cache.make_and_validate_key(current_key)
        previous = cache.make_and_validate_key(previous_key)
        pipe = client_of(current, write=True).pipeline(transaction=False)
        pipe.set(current, 0, ex=timeout, nx=True)
        pipe.incr(current)
        pipe.get(previous)
        _, count, before = pipe.execute()
        # The cache stores integers as their digits (RedisSerializer), so both sides agree.
        return int(count), int(before or 0)

    @staticmethod
    def _count(key: str, timeout: int) -> int:
        """This request, counted: Redis ``INCR`` (atomic); the window's first one creates it."""
        for _ in range(3):
            try:
                return cache.incr(key)
            except ValueError:  # no counter yet in this window
                if cache.add(key, 1, timeout=timeout):  # only one request can create it
                    return 1
        return cache.incr(key)

    @staticmethod
    def _wait(limit: int, period: int, into_window: float, previous: int, current: int) -> float:
        """Seconds until the estimate is back under the limit (at the latest: next window)."""
        to_next_window = (1 - into_window) * period
        if current >= limit or previous <= 0:
            return max(1.0, to_next_window)
        needed = 1 - (limit - current) / previous  # share of the window that must have passed
        return max(1.0, min(to_next_window, (needed - into_window) * period))

    def wait(self) -> float | None:
        return math.ceil(self.retry_after) if self.retry_after is not None else None
