"""Asking the PMR about events and customers while a person waits (order creation).

Answers are cached (events 1 hour, customers 4 hours, a "not found" 5 minutes)
in the Django cache (Redis), so creating the tenth order of an event asks the
PMR nothing. These calls are interactive: one attempt with a short timeout and
no retries, and nothing at all while the PMR's circuit is open. When the PMR
cannot answer, the result says so (``reachable=False``) and the caller decides
(order creation goes on with the local event: offline mode).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from pmr.clients import PMRClient, PMRError, PMRNotFound
from utilities.encrypted_fields import email_hash

from . import connection

log = logging.getLogger(__name__)
NOT_FOUND_SECONDS = 300


@dataclass(frozen=True)
class EventCheck:
    event_id: str
    reachable: bool
    found: bool = False
    open: bool = False
    name: str = ""
    date: str | None = None
    type: str = ""
    customer_id: str | None = None
    cached: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=4)
def _interactive_for(base_url: str, client_id: str, secret: str, api_key: str) -> PMRClient:
    return PMRClient(base_url, client_id, secret, api_key, timeout=(2.0, 4.0), attempts=1)


def _client() -> PMRClient:
    return _interactive_for(
        settings.PMR_BASE_URL,
        settings.PMR_CLIENT_ID,
        settings.PMR_CLIENT_SECRET,
        settings.PMR_API_KEY,
    )


def health() -> dict[str, Any]:
    """The PMR's own health answer (one short attempt); raises ``PMRError`` when it has none."""
    return _client().health()


def _ask(call):
    """Run one PMR call unless the circuit is open; (answer, error). Network trouble counts."""
    breaker = connection.breaker()
    if not breaker.allow(connection.BREAKER_NAME):
        return None, PMRError("the PMR is unreachable (circuit open)")
    try:
        answer = call(_client())
    except PMRNotFound as exc:
        breaker.record_success(connection.BREAKER_NAME)
        return None, exc
    except PMRError as exc:
        if exc.retryable:
            breaker.record_failure(connection.BREAKER_NAME)
        else:
            breaker.release(connection.BREAKER_NAME)
        return None, exc
    breaker.record_success(connection.BREAKER_NAME)
    return answer, None


def check_event(event_id: str) -> EventCheck:
    """What the PMR says of an Event ID (cached); ``reachable=False`` when it could not say."""
    key = f"pmr:event:{event_id}"
    hit = cache.get(key)
    if hit is not None:
        return EventCheck(**{**hit, "cached": True})
    answer, error = _ask(lambda client: client.get_event(event_id))
    if isinstance(error, PMRNotFound):
        check = EventCheck(event_id, reachable=True, found=False)
        cache.set(key, check.as_dict(), NOT_FOUND_SECONDS)
        return check
    if error is not None:
        log.warning("PMR event check of %s failed: %s", event_id, error)
        return EventCheck(event_id, reachable=False)
    check = EventCheck(
        event_id,
        reachable=True,
        found=True,
        open=answer.get("status") == "open",
        name=str(answer.get("name") or "")[:255],
        date=answer.get("date"),
        type=str(answer.get("type") or ""),
        customer_id=answer.get("customer_id"),
    )
    cache.set(key, check.as_dict(), settings.PMR_EVENT_CACHE_SECONDS)
    return check


def customer_id_for(email: str) -> str | None:
    """The PMR's customer id for an e-mail address (cached), or None (none, or no answer)."""
    email = (email or "").strip().lower()
    if not email:
        return None
    # The address's keyed hash, not the address: Redis (and its append-only file) is storage
    # too, and the customers' addresses are encrypted at rest everywhere else.
    key = f"pmr:customer:{email_hash(email)}"
    hit = cache.get(key)
    if hit is not None:
        return hit or None
    answer, error = _ask(lambda client: client.find_customers(email))
    if error is not None and not isinstance(error, PMRNotFound):
        return None  # unreachable: not cached, ask again next time
    found = str(answer[0].get("customer_id") or "") if answer else ""
    cache.set(key, found, settings.PMR_CUSTOMER_CACHE_SECONDS if found else NOT_FOUND_SECONDS)
    return found or None


def import_event(check: EventCheck):
    """Create or refresh the local Event from the PMR's answer; returns it."""
    from events.models import Event

    types = set(Event.Type.values)
    with transaction.atomic():
        event, _ = Event.objects.update_or_create(
            event_id=check.event_id,
            defaults={
                "name": check.name,
                "event_type": check.type if check.type in types else Event.Type.OTHER,
                "customer_id": check.customer_id or "",
                "pmr_validated": True,
                "pmr_validated_at": timezone.now(),
                **({"date": check.date} if check.date else {}),
            },
        )
    return event


def find_event(event_id: str):
    """The local Event for an Event ID typed by a person or sent by a client, else one the
    PMR knows (brought over and kept); None when neither has it. Exact match first, then
    case-insensitive (people type IDs; the characters must still match)."""
    from events.models import Event

    event = Event.objects.filter(event_id=event_id).first()
    if event is None:
        event = Event.objects.filter(event_id__iexact=event_id).first()
    if event is None:
        check = check_event(event_id)
        if check.found:
            event = import_event(check)
    return event
