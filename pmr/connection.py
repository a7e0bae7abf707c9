"""The PMR client and circuit breaker of this process, built from the settings.

One ``PMRClient`` per process and configuration (its connection pool and token
cache are shared by the worker's threads); the breaker (``utilities.breakers``)
keeps its state in Redis, so every worker process sees the same circuit.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from pmr.clients import PMRClient
from utilities import breakers
from utilities.circuit_breaker import CircuitBreaker

#: The breaker's name for "the" PMR (one per deployment).
BREAKER_NAME = breakers.PMR_NAME


@lru_cache(maxsize=4)
def _client_for(
    base_url: str, client_id: str, client_secret: str, api_key: str, timeout: float, attempts: int
) -> PMRClient:
    return PMRClient(
        base_url,
        client_id,
        client_secret,
        api_key,
        timeout=(min(timeout, 5.0), timeout),
        attempts=attempts,
    )


def client() -> PMRClient:
    return _client_for(
        settings.PMR_BASE_URL,
        settings.PMR_CLIENT_ID,
        settings.PMR_CLIENT_SECRET,
        settings.PMR_API_KEY,
        float(settings.PMR_TIMEOUT_SECONDS),
        int(settings.PMR_CLIENT_ATTEMPTS),
    )


def breaker() -> CircuitBreaker:
    return breakers.pmr_breaker()
