"""Events are audited with django-auditlog."""

from __future__ import annotations

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from events.models import Event

Action = LogEntry.Action


def test_event_create_update_delete_are_audited(db):
    event = Event.objects.create(event_id="EVT-AUDIT-1", name="Before")
    pk = event.pk
    event.name = "After"
    event.save()
    event.delete()

    log = list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Event), object_pk=str(pk)
        ).order_by("pk")
    )
    assert [e.action for e in log] == [Action.CREATE, Action.UPDATE, Action.DELETE]
    assert log[1].changes_dict["name"] == ["Before", "After"]
    assert log[2].object_repr == "EVT-AUDIT-1 — After"
    assert all(e.actor is None for e in log)  # no request: the system
