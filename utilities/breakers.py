"""The product's circuit breakers, built in one place: one for the AI providers (a circuit per
provider name) and one for the PMR.

Every reader and writer of a breaker (the AI chain, the PMR drain and lookups, the status API
and pages, the outage notifications) takes it from here, so thresholds, key prefixes and the
Redis client are the same everywhere and a breaker is built once per process and settings,
not once per request. Whoever needs to hear a circuit open or close (the dashboard's "Needs
attention" panel, ``orders.attention``) connects to ``circuit_changed``: the breaker lives
below every app, so it cannot call them.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.dispatch import Signal

from .circuit_breaker import CircuitBreaker
from .redis_clients import client_for

#: Key prefix of the AI providers' circuits (one circuit per provider name).
AI_PREFIX = "rkh:ai:breaker"
#: Key prefix of the PMR's circuit.
PMR_PREFIX = "rkh:pmr:breaker"
#: The PMR breaker's circuit name ("the" PMR: one per deployment).
PMR_NAME = "pmr"

#: Sent with ``name`` (the circuit) and ``state`` ("open" or "closed") when a circuit of
#: either breaker opens or closes again. Receivers must be quick: the caller is a worker
#: in the middle of a call to the service.
circuit_changed = Signal()


def _changed(name: str, state: str) -> None:
    circuit_changed.send(sender=CircuitBreaker, name=name, state=state)


@lru_cache(maxsize=8)
def _breaker(
    url: str, timeout: float | None, prefix: str, failures: int, cooldown: float
) -> CircuitBreaker:
    return CircuitBreaker(
        client_for(url, timeout=timeout),
        failures=failures,
        cooldown=cooldown,
        prefix=prefix,
        on_change=_changed,
    )


def ai_breaker(*, timeout: float | None = None) -> CircuitBreaker:
    """The AI providers' breaker (``AI_BREAKER_*`` settings). ``timeout``: seconds its Redis
    reads may take, for readers that must not hang (a status page)."""
    return _breaker(
        settings.REDIS_URL,
        timeout,
        AI_PREFIX,
        int(settings.AI_BREAKER_FAILURES),
        float(settings.AI_BREAKER_COOLDOWN_SECONDS),
    )


def pmr_breaker(*, timeout: float | None = None) -> CircuitBreaker:
    """The PMR's breaker (``PMR_BREAKER_*`` settings); its circuit is ``PMR_NAME``."""
    return _breaker(
        settings.REDIS_URL,
        timeout,
        PMR_PREFIX,
        int(settings.PMR_BREAKER_FAILURES),
        float(settings.PMR_BREAKER_COOLDOWN_SECONDS),
    )
