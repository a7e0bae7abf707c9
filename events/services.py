"""Writes to events, shared by the REST API (and later the pages and the PMR check).

Access (``events.add_event``, ``events.change_event``: Admin and Manager) is
checked here, like ``orders.services`` does, so no caller can forget it.
The Event ID is the event's identity in the PMR and in every order's URL
there: it is fixed once the event exists.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from .models import Event

#: Fields ``update_event`` changes; ``event_id`` and the PMR validation are not among them.
EDITABLE_EVENT_FIELDS = frozenset({"name", "date", "event_type", "customer_id", "metadata"})


def _require(actor: Any, permission: str, verb: str) -> None:
    if not (actor is not None and actor.is_active and actor.has_perm(permission)):
        raise PermissionDenied(f"You may not {verb} events.")


@transaction.atomic
def create_event(*, actor: Any, event_id: str, **fields: Any) -> Event:
    """A new event; ``fields`` among ``EDITABLE_EVENT_FIELDS``."""
    _require(actor, "events.add_event", "create")
    unknown = set(fields) - EDITABLE_EVENT_FIELDS
    if unknown:
        raise ValueError(f"Not event fields: {', '.join(sorted(unknown))}")
    fields.setdefault("metadata", {})
    try:
        with transaction.atomic():
            return Event.objects.create(event_id=event_id, **fields)
    except IntegrityError:
        # Checked by the caller first; this is the race of two creates of one ID.
        raise ValidationError(
            {"event_id": [f"An event with the Event ID {event_id} exists."]}
        ) from None


@transaction.atomic
def update_event(event: Event, *, actor: Any, **changes: Any) -> Event:
    """Change the given fields of an event (each one audited by auditlog)."""
    _require(actor, "events.change_event", "change")
    unknown = set(changes) - EDITABLE_EVENT_FIELDS
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    locked = Event.objects.select_for_update().get(pk=event.pk)
    changed = [field for field, value in changes.items() if getattr(locked, field) != value]
    for field in changed:
        setattr(locked, field, changes[field])
    if changed:
        locked.save(update_fields=[*changed, "updated_at"])
    return locked
