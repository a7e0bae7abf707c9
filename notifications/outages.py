""" "AI provider or PMR down": one notification per outage, from the shared circuit breakers.

The breakers (``utilities.breakers``) live in Redis and count failures
per service; one open circuit means the service stopped answering. A beat task
looks at them every ``NOTIFY_OUTAGE_CHECK_SECONDS``: a circuit that is open (or
half-open: still not answering) with no open ``ServiceOutage`` starts one and
notifies the Managers and Admins; a closed circuit ends it. The partial unique
constraint (one open outage per service) makes two beats racing, or a circuit
that flaps between open and half-open, one outage, told once. Why a beat and not
a hook in the breaker: the breaker is plain redis-py shared by every worker,
and an outage shorter than one check is not worth waking anyone for.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from utilities import breakers
from utilities.circuit_breaker import CircuitBreaker

from . import compose, services
from .models import ServiceOutage

log = logging.getLogger(__name__)

#: Display names of the AI providers (others: the name, capitalised).
PROVIDER_LABELS = {"runware": "Runware", "gemini": "Gemini", "local": "Local"}


def _breakers() -> list[tuple[str, str, CircuitBreaker, str]]:
    """(service key, label, breaker, breaker name) for the PMR and each configured provider."""
    ai = breakers.ai_breaker()
    found = [("pmr", "The PMR", breakers.pmr_breaker(), breakers.PMR_NAME)]
    for name in settings.AI_PROVIDERS:
        name = str(name).strip().lower()
        if name and name != "local":  # the local provider runs in the worker: never "down"
            found.append((f"ai:{name}", PROVIDER_LABELS.get(name, name.title()), ai, name))
    return found


def check() -> dict[str, str]:
    """Start or end outages from the breakers' states; {service: what happened}."""
    seen: dict[str, str] = {}
    for service, label, breaker, name in _breakers():
        try:
            state = breaker.state(name)["state"]
        except redis.RedisError:
            log.warning("Outage check: breaker %s unreadable", service, exc_info=True)
            continue
        down = state in ("open", "half_open")
        current = ServiceOutage.objects.filter(service=service, ended_at__isnull=True).first()
        if down and current is None:
            outage = _start(service, label)
            seen[service] = "started" if outage else "already known"
        elif not down and current is not None:
            ServiceOutage.objects.filter(pk=current.pk, ended_at__isnull=True).update(
                ended_at=timezone.now()
            )
            seen[service] = "ended"
    return seen


def _start(service: str, label: str) -> ServiceOutage | None:
    """Record the outage and notify, in one transaction; None if another check did."""
    try:
        with transaction.atomic():
            outage = ServiceOutage.objects.create(service=service, label=label)
            services.notify(compose.for_outage(outage))
    except IntegrityError:
        return None
    return outage
