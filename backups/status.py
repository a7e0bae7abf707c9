"""Are backups being made? One sentence for the admin index and the dashboard.

Read from the ``BackupRun`` record: the last run that ended, and the last good one. It
warns when the last run failed, when no backup was ever made, and when the last good backup
is older than ``BACKUP_STALE_HOURS`` (the daily task did not run: beat or the worker is
down). Only people who may see the backup record (``backups.view_backuprun``) are shown it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import formats, timezone

from orders import attention

from .models import BackupRun

VIEW_PERMISSION = "backups.view_backuprun"


@dataclass(frozen=True)
class Status:
    #: "success", "warning" or "error" (the admin's message levels).
    level: str
    text: str
    last: BackupRun | None


def _when(moment: Any) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def current() -> Status:
    ended = (
        BackupRun.objects.exclude(status=BackupRun.Status.RUNNING)
        .order_by("-started_at", "-id")
        .first()
    )
    good = (
        BackupRun.objects.filter(status=BackupRun.Status.SUCCEEDED)
        .order_by("-started_at", "-id")
        .first()
    )
    stale_hours = settings.BACKUP_STALE_HOURS
    if ended is None:
        return Status("warning", "No backup has been made yet.", None)
    if ended.status == BackupRun.Status.FAILED:
        since = f" The last good one is from {_when(good.started_at)}." if good else ""
        text = f"The last backup, started {_when(ended.started_at)}, failed: {ended.error[:300]}."
        return Status("error", text + since, ended)
    assert good is not None
    if timezone.now() - good.started_at > timedelta(hours=stale_hours):
        text = (
            f"The last backup is from {_when(good.started_at)}, more than {stale_hours} hours "
            "ago: the daily backup is not running (is beat running?)."
        )
        return Status("warning", text, good)
    size = filesizeformat(good.size_bytes or 0)
    text = f"Last backup: {_when(good.started_at)}, {size}, verified."
    return Status("success", text, good)


def provide(viewer: attention.Viewer) -> attention.Contribution:
    """The dashboard's "Needs attention": a failed or missing backup, for whoever may see the
    backup record."""
    found = attention.Contribution()
    if not viewer.user.has_perm(VIEW_PERMISSION):
        return found
    now = current()
    if now.level == "success":
        return found
    link = attention.Link("Backups", reverse("admin:backups_backuprun_changelist"))
    found.items.append(attention.Item("backups", now.level, now.text, (link,)))
    return found
