"""A failed backup: the people who look after backups hear of it once, in the app and by
e-mail (their notification preferences, kind "backup_failed"), as the Admins hear of repeated
failed sign-ins (``notifications.signins``).

Who: active users with ``backups.receive_backup_alerts`` (the Admin role has every
permission; a superuser too). Once: the notification's source key is the run, and
``notifications.services.notify`` makes one per user and source.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import formats, timezone

from notifications import services
from notifications.compose import BACKUP_ALERTS, Message
from notifications.models import Kind

from .models import BackupRun


def recipients() -> list[Any]:
    return list(
        get_user_model().objects.with_perm(
            BACKUP_ALERTS, backend="django.contrib.auth.backends.ModelBackend"
        )
    )


def message(run: BackupRun) -> Message:
    when = formats.date_format(timezone.localtime(run.started_at), "DATETIME_FORMAT")
    body = (
        f"The backup started {when} failed: {run.error[:500]}. "
        "The earlier backups are kept; fix the cause and run “manage.py backup”, "
        "or wait for tomorrow's."
    )
    url = reverse("admin:backups_backuprun_change", args=[run.pk])
    return Message(Kind.BACKUP_FAILED, f"backup-run:{run.pk}", "The backup failed", body, url)


def backup_failed(run: BackupRun) -> int:
    """Notify once per run; how many notifications were made now."""
    note = message(run)
    return len(services.notify((user, note) for user in recipients()))
