"""A circuit breaker per outside service (AI providers, the PMR), shared by every worker in Redis.

Closed: calls go through; each failure adds one to a counter, any success
resets it. After ``failures`` consecutive failures the circuit opens: calls are
refused for ``cooldown`` seconds. Then it is half-open: exactly one caller, the
one that wins a ``SET NX`` probe token (which expires, so a crashed prober does
not wedge it), may try; success closes the circuit, failure opens it again for
another cool-down. Counting and opening happen in one Lua script, so workers
racing on failures cannot lose a count. Plain redis-py, no Django.

``on_change(name, state)``, if given, hears the two moments people care about:
"open" when the failure that opens the circuit is counted (once, not again on
every failed probe) and "closed" when a success clears an opened circuit. The
breakers of the product (``utilities.breakers``) pass it on as a signal the
dashboard's "Needs attention" panel listens to, so an outage shows at once.
``state()`` carries ``down_since``: when the circuit first opened, kept across
failed probes until a success closes it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from .redis_scripts import BREAKER_RECORD_FAILURE

log = logging.getLogger(__name__)


class CircuitBreaker:
    def __init__(
        self,
        client: redis.Redis,
        *,
        failures: int = 5,
        cooldown: float = 60.0,
        probe_timeout: float | None = None,
        prefix: str = "rkh:ai:breaker",
        clock: Callable[[], float] = time.time,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.on_change = on_change
        self.failures = failures
        self.cooldown = cooldown
        self.probe_timeout = probe_timeout or max(cooldown, 30.0)
        self.prefix = prefix
        self.clock = clock
        self._record_failure = client.register_script(BREAKER_RECORD_FAILURE)

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def _probe_key(self, name: str) -> str:
        return f"{self.prefix}:{name}:probe"

    def _read_all(self, name: str) -> tuple[int, float | None, float | None]:
        raw = self.client.hgetall(self._key(name))
        failures = int(raw.get(b"failures", 0))
        opened, since = raw.get(b"opened_at"), raw.get(b"down_since")
        return (
            failures,
            float(opened) if opened is not None else None,
            float(since) if since is not None else None,
        )

    def _read(self, name: str) -> tuple[int, float | None]:
        failures, opened_at, _since = self._read_all(name)
        return failures, opened_at

    def _changed(self, name: str, state: str) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(name, state)
        except Exception:  # a listener must never break the call it watches
            log.warning("Circuit breaker listener failed for %s", name, exc_info=True)

    def allow(self, name: str) -> bool:
        """Whether a call to ``name`` may go ahead now (in half-open: only the probe's)."""
        failures, opened_at = self._read(name)
        if opened_at is None or failures < self.failures:
            return True
        if self.clock() - opened_at < self.cooldown:
            return False
        token = uuid.uuid4().hex
        return bool(
            self.client.set(
                self._probe_key(name), token, nx=True, px=int(self.probe_timeout * 1000)
            )
        )

    def record_success(self, name: str) -> None:
        """Close the circuit: forget the failures and free the probe token."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hexists(self._key(name), "opened_at")
            pipe.delete(self._key(name), self._probe_key(name))
            was_open, _deleted = pipe.execute()
        if was_open:
            self._changed(name, "closed")

    def record_failure(self, name: str) -> int:
        """Count one failure (opening, or re-opening after a failed probe); returns the count."""
        keep = int(max(self.cooldown * 10, 3600))  # idle state fades away on its own
        count = int(
            self._record_failure(keys=[self._key(name)], args=[self.failures, self.clock(), keep])
        )
        self.client.delete(self._probe_key(name))
        if count == self.failures:
            self._changed(name, "open")
        return count

    def release(self, name: str) -> None:
        """Give the probe token back without a verdict (the call proved nothing)."""
        self.client.delete(self._probe_key(name))

    def state(self, name: str) -> dict[str, Any]:
        """``{"state": closed|open|half_open, "failures", "retry_in"}`` for a status page;
        an open or half-open circuit also has ``down_since`` (epoch seconds)."""
        failures, opened_at, down_since = self._read_all(name)
        if opened_at is None or failures < self.failures:
            return {"provider": name, "state": "closed", "failures": failures, "retry_in": 0}
        since = down_since if down_since is not None else opened_at
        remaining = self.cooldown - (self.clock() - opened_at)
        if remaining > 0:
            return {
                "provider": name,
                "state": "open",
                "failures": failures,
                "retry_in": round(remaining, 1),
                "down_since": since,
            }
        probing = bool(self.client.exists(self._probe_key(name)))
        return {
            "provider": name,
            "state": "half_open",
            "failures": failures,
            "retry_in": 0,
            "probing": probing,
            "down_since": since,
        }
