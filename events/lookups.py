"""Asking the PMR about events and customers while a person waits (order creation).

Here in ``events`` (below ``orders``, on the Django-free ``pmr.clients``) so the order
service can resolve an Event ID itself: forms and serializers only check its shape, and a
refused request writes no ``Event`` row (``import_event`` runs in the order's transaction).

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
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from pmr.clients import PMRClient, PMRError, PMRNotFound
from utilities import breakers
from utilities.encrypted_fields import email_hash
from utilities.errors import FieldRefused

from .models import Event, event_id_validator

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
    breaker, name = breakers.pmr_breaker(), breakers.PMR_NAME
    if not breaker.allow(name):
        return None, PMRError("the PMR is unreachable (circuit open)")
    try:
        answer = call(_client())
    except PMRNotFound as exc:
        breaker.record_success(name)
        return None, exc
    except PMRError as exc:
        if exc.retryable:
            breaker.record_failure(name)
        else:
            breaker.release(name)
        return None, exc
    breaker.record_success(name)
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


def customer_cache_key(email: str) -> str:
    """The cache key of an address's PMR customer id: the address's keyed hash, not the
    address (Redis and its append-only file are storage too, and customers' addresses are
    encrypted at rest everywhere else)."""
    return f"pmr:customer:{email_hash(email)}"


def forget_customer(email: str) -> None:
    """Drop the cached answer for the address (its customer's data is being erased)."""
    if (email or "").strip():
        cache.delete(customer_cache_key(email))


def customer_id_for(email: str) -> str | None:
    """The PMR's customer id for an e-mail address (cached), or None (none, or no answer)."""
    email = (email or "").strip().lower()
    if not email:
        return None
    key = customer_cache_key(email)
    hit = cache.get(key)
    if hit is not None:
        return hit or None
    answer, error = _ask(lambda client: client.find_customers(email))
    if error is not None and not isinstance(error, PMRNotFound):
        return None  # unreachable: not cached, ask again next time
    found = str(answer[0].get("customer_id") or "") if answer else ""
    cache.set(key, found, settings.PMR_CUSTOMER_CACHE_SECONDS if found else NOT_FOUND_SECONDS)
    return found or None


def import_event(check: EventCheck) -> Event:
    """Create or refresh the local Event from the PMR's answer; returns it."""
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


class UnknownEvent(FieldRefused):
    """An Event ID neither registered here nor known to the PMR (or the PMR cannot say)."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(
            "event",
            f"Unknown Event ID “{event_id[:60]}”. Check the ID in the PMR (if the PMR cannot "
            "be reached, only events already registered here can take orders).",
        )


def local_event(event_id: str) -> Event | None:
    """The registered Event for an Event ID typed by a person or sent by a client: exact
    match first, then case-insensitive (people type IDs; the characters must still match)."""
    event_id = (event_id or "").strip()
    event = Event.objects.filter(event_id=event_id).first()
    if event is None:
        event = Event.objects.filter(event_id__iexact=event_id).first()
    return event


def well_formed(event_id: str) -> bool:
    """Whether an Event ID has the shape of one (only such an ID is worth asking the PMR about)."""
    try:
        event_id_validator(event_id)
    except ValidationError:
        return False
    return len(event_id) <= Event._meta.get_field("event_id").max_length


def resolve_event(event_id: str) -> Event:
    """The Event an Event ID names: registered here, or brought over from the PMR (in the
    caller's transaction: a request refused later leaves no row). ``UnknownEvent`` else."""
    event_id = (event_id or "").strip()
    event = local_event(event_id)
    if event is not None:
        return event
    if not well_formed(event_id):
        raise UnknownEvent(event_id)
    check = check_event(event_id)
    if not check.found:
        raise UnknownEvent(event_id)
    return import_event(check)
