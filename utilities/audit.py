"""Who looked at what: access entries in the audit log (django-auditlog), beside its changes.

django-auditlog records changes to registered models by itself; reading leaves no trace. The
studio must be able to say who signed in (and who tried), who signed out, and who took a
customer's original files or an order's ZIP away, so those are written here as ``ACCESS``
entries: the object (the account, the image, the order), the person, the client address the
server trusts (``REMOTE_ADDR``: rkh_site/client_address.py) and what happened in
``additional_data["event"]``. They show in the admin's log entries with the rest.
"""

from __future__ import annotations

from typing import Any

from auditlog.models import LogEntry
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
    model: type[models.Model], label: str, event: str, *, request: Any = None, **data: Any
) -> LogEntry:
    """An ``ACCESS`` entry about no stored object (a sign-in attempt for a name no account has):
    the model it was about and the name as typed."""
    return LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(model),
        object_pk="",
        object_repr=label[:200],
        action=LogEntry.Action.ACCESS,
        changes={},
        remote_addr=_address(request),
        additional_data={"event": event, **data},
    )
