"""Writes about users and roles, shared by the admin, commands and tasks."""

from __future__ import annotations

from datetime import timedelta

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from .models import User
from .roles import ROLES


def set_role(user: User, role: str | None) -> None:
    """Give the user exactly one role (or none); other role groups are removed."""
    if role is not None and role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}")
    with transaction.atomic():
        # Only the role groups the user is in: removing the others too would
        # record "removed from Admin, Manager, ..." in the audit log for roles
        # the user never had.
        others = user.groups.filter(name__in=ROLES).exclude(name=role)
        if others:
            user.groups.remove(*others)
        if role is not None:
            user.groups.add(Group.objects.get(name=role))


def purge_old_audit_entries(days: int | None = None) -> int:
    """Delete audit entries older than ``AUDITLOG_RETENTION_DAYS``; 0 keeps everything."""
    days = settings.AUDITLOG_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = LogEntry.objects.filter(timestamp__lt=cutoff).delete()
    return deleted


def update_settings(user: User, settings_: dict) -> User:
    """Replace the user's own preferences (``User.settings``); audited like any user change."""
    if not isinstance(settings_, dict):
        raise ValueError("settings must be a JSON object")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.settings != settings_:
            locked.settings = settings_
            locked.save(update_fields=["settings"])
    user.settings = settings_
    return user
