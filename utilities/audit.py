"""Who looked at what: access entries in the audit log (django-auditlog), beside its changes.

django-auditlog records changes to registered models by itself; reading leaves no trace. The
studio must be able to say who signed in (and who tried), who signed out, and who took a
customer's original files or an order's ZIP away, so those are written here as ``ACCESS``
entries: the object (the account, the image, the order), the person, the client address the
server trusts (``REMOTE_ADDR``: rkh_site/client_address.py) and what happened in
``additional_data["event"]``. They show in the admin's log entries with the rest.

A customer's data must also leave the log when it leaves the rows (retention, a customer's
request: ``orders.privacy``); ``Scrubber`` does that without deleting the entries, so the
log still says who changed what and when.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from auditlog.cid import get_cid
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models


def _address(request: Any) -> str | None:
    meta = getattr(request, "META", None) or {}
    return str(meta.get("REMOTE_ADDR") or "")[:45] or None


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def record_access(
    instance: models.Model, event: str, *, actor: Any = None, request: Any = None, **data: Any
) -> LogEntry:
    """An ``ACCESS`` entry for ``instance``: ``event`` (e.g. ``signed_in``) and ``data``."""
    return LogEntry.objects.log_create(
        instance,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        changes={},
        actor=_actor(actor),
        remote_addr=_address(request),
        additional_data={"event": event, **data},
    )


def record_unknown_access(
    model: type[models.Model],
    label: str,
    event: str,
    *,
    actor: Any = None,
    request: Any = None,
    **data: Any,
) -> LogEntry:
    """An ``ACCESS`` entry about no stored object (a sign-in attempt for a name no account has,
    a customer's request that found no order): the model it was about and a label."""
    return LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(model),
        object_pk="",
        object_repr=label[:200],
        action=LogEntry.Action.ACCESS,
        actor=_actor(actor),
        changes={},
        remote_addr=_address(request),
        additional_data={"event": event, **data},
    )


def record_changes(
    instances: Iterable[models.Model],
    changes: dict[Any, dict[str, list[Any]]],
    *,
    actor: Any = None,
) -> int:
    """``UPDATE`` entries for rows changed by a bulk ``update()`` (which sends no signals, so
    django-auditlog writes nothing): one per instance, ``changes[pk]`` as ``{field: [old,
    new]}``, written with one ``bulk_create``; how many were written.

    What a ``save`` would have logged, without its extra read of the old row and its insert
    per row. The actor is ``actor`` (the callers are workers; auditlog's request context
    is not read: its value outlives the request it was set for).
    """
    who = _actor(actor)
    entries = []
    for instance in instances:
        changed = changes.get(instance.pk)
        if not changed:
            continue
        entries.append(
            LogEntry(
                content_type=ContentType.objects.get_for_model(instance),
                object_pk=str(instance.pk),
                object_id=instance.pk if isinstance(instance.pk, int) else None,
                object_repr=str(instance),
                action=LogEntry.Action.UPDATE,
                changes={field: [_text(v) for v in pair] for field, pair in changed.items()},
                actor=who,
                actor_email=getattr(who, "email", None) if who is not None else None,
                cid=get_cid(),
            )
        )
    LogEntry.objects.bulk_create(entries)
    return len(entries)


def record_created(instances: Iterable[models.Model], *, actor: Any = None) -> int:
    """``CREATE`` entries for rows inserted by ``bulk_create`` (no signals, so no entries from
    django-auditlog): what it would have written for each, from the same diff of the
    instance's registered fields, in one ``bulk_create``; how many were written."""
    who = _actor(actor)
    entries = [
        LogEntry(
            content_type=ContentType.objects.get_for_model(instance),
            object_pk=str(instance.pk),
            object_id=instance.pk if isinstance(instance.pk, int) else None,
            object_repr=str(instance),
            action=LogEntry.Action.CREATE,
            changes=model_instance_diff(
                None, instance, use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES
            ),
            actor=who,
            actor_email=getattr(who, "email", None) if who is not None else None,
            cid=get_cid(),
        )
        for instance in instances
    ]
    LogEntry.objects.bulk_create(entries)
    return len(entries)


def _text(value: Any) -> str:
    """A value as auditlog writes it in ``changes`` ("None" for no value)."""
    return str(value)


# --- erasing personal data from the log ---------------------------------------------------

#: What an erased value reads as, in the log as in the rows it was about.
ERASED = "[erased]"
#: How auditlog writes "no value" in ``changes``: left as it is (nothing to hide).
_EMPTY_CHANGE_VALUES = frozenset({"", "None", "[]", "{}"})


class Scrubber:
    """Erases one person's data from JSON, text and audit entries.

    ``needles`` are the person's own strings (a name, an e-mail address): any occurrence, in
    any case, becomes ``[erased]`` wherever it is. ``fields`` are keys whose whole value goes,
    whatever it holds (a free-form note, EXIF facts). Both are needed: a field is found by
    its key, a name repeated inside a sentence or a serialized payload only by its text.
    """

    #: Shorter needles would erase parts of unrelated words ("Al" in "Album").
    MIN_NEEDLE = 3

    def __init__(self, needles: Iterable[str]) -> None:
        kept = sorted({n.strip() for n in needles if n and len(n.strip()) >= self.MIN_NEEDLE})
        kept.sort(key=len, reverse=True)  # "ann@x.org" before "ann"
        self.pattern = (
            re.compile("|".join(re.escape(n) for n in kept), re.IGNORECASE) if kept else None
        )

    def text(self, value: str) -> str:
        """``value`` with every needle replaced."""
        if not value or self.pattern is None:
            return value
        return self.pattern.sub(ERASED, value)

    def json(self, value: Any, fields: Iterable[str] = ()) -> Any:
        """A JSON value with ``fields`` (at any depth) erased and needles replaced in strings."""
        fields = frozenset(fields)
        if isinstance(value, dict):
            return {
                key: ERASED
                if key in fields and item not in (None, "", [], {})
                else self.json(item, fields)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.json(item, fields) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def _changes(self, changes: Any, fields: frozenset[str]) -> Any:
        """auditlog's ``changes``: ``{field: [old, new]}`` (or an m2m dict per field)."""
        if not isinstance(changes, dict):
            return self.json(changes)
        scrubbed = {}
        for field, change in changes.items():
            if field in fields and isinstance(change, list):
                scrubbed[field] = [
                    value if str(value) in _EMPTY_CHANGE_VALUES else ERASED for value in change
                ]
            else:
                scrubbed[field] = self.json(change, fields)
        return scrubbed

    def audit(
        self,
        model: type[models.Model],
        pks: Iterable[Any],
        *,
        fields: Iterable[str] = (),
        object_repr: str | None = None,
    ) -> int:
        """Scrub the log entries of these objects: each keeps its action, time, actor and
        address; ``fields`` lose their values, needles go from the rest, and ``object_repr``
        (when given) replaces what the entries call the object. Returns entries changed."""
        keys = [str(pk) for pk in pks]
        if not keys:
            return 0
        fields = frozenset(fields)
        changed = 0
        entries = LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model), object_pk__in=keys
        )
        for entry in entries.iterator(chunk_size=500):
            new = {
                "object_repr": object_repr or self.text(entry.object_repr),
                "changes": self._changes(entry.changes, fields),
                "changes_text": self.text(entry.changes_text),
                "serialized_data": self.json(entry.serialized_data, fields),
                "additional_data": self.json(entry.additional_data, fields),
            }
            if any(getattr(entry, name) != value for name, value in new.items()):
                LogEntry.objects.filter(pk=entry.pk).update(**new)
                changed += 1
        return changed
