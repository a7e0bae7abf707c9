"""The admin shows the last backup and its result: a line on the admin index, the list of
runs; a failed, missing or too old backup is a warning there and on the dashboard's "Needs
attention" panel, for the people who look after backups (Admins)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupRun
from orders import attention

pytestmark = pytest.mark.django_db


def _run(status: str, *, hours_ago: float, error: str = "", size: int | None = None) -> BackupRun:
    started = timezone.now() - timedelta(hours=hours_ago)
    return BackupRun.objects.create(
        name=f"rkh-{started:%Y%m%d-%H%M%S}",
        trigger=BackupRun.Trigger.SCHEDULE,
        status=status,
        started_at=started,
        finished_at=started + timedelta(minutes=2),
        size_bytes=size,
        error=error,
    )


def _index_line(client, user) -> str:
    client.force_login(user)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    html = page.content.decode()
    if "backup-status" not in html:
        return ""
    start = html.index("backup-status")
    return html[start : html.index("</li>", start)]


def test_the_admin_index_says_when_no_backup_was_made(client, users):
    line = _index_line(client, users["Admin"])
    assert 'class="warning"' in line
    assert "No backup has been made yet." in line


@pytest.mark.django_db(transaction=True)
def test_the_admin_index_and_list_show_the_last_backup_made(client, users, backup_dir, media_root):
    call_command("backup", verbosity=0)
    run = BackupRun.objects.get()

    line = _index_line(client, users["Admin"])
    assert 'class="success"' in line
    assert "Last backup:" in line
    assert "verified" in line

    listing = client.get(reverse("admin:backups_backuprun_changelist")).content.decode()
    assert run.name in listing
    assert "Succeeded" in listing
    assert "Last backup:" in listing
    assert not [i for i in attention.collect(users["Admin"]).items if i.key == "backups"]


def test_a_failed_last_backup_is_an_error_on_the_index_and_the_dashboard(client, users):
    _run(BackupRun.Status.SUCCEEDED, hours_ago=30, size=2048)
    failed = _run(BackupRun.Status.FAILED, hours_ago=2, error="pg_dump failed: disk full")

    line = _index_line(client, users["Admin"])
    assert 'class="error"' in line
    assert "failed: pg_dump failed: disk full" in line
    assert "The last good one is from" in line

    items = [i for i in attention.collect(users["Admin"]).items if i.key == "backups"]
    assert [i.level for i in items] == ["error"]
    assert items[0].links[0].url == reverse("admin:backups_backuprun_changelist")
    page = client.get(reverse("admin:backups_backuprun_change", args=[failed.pk]))
    assert "disk full" in page.content.decode()


def test_a_backup_older_than_26_hours_is_a_warning(client, users, settings):
    assert settings.BACKUP_STALE_HOURS == 26
    _run(BackupRun.Status.SUCCEEDED, hours_ago=27, size=2048)

    line = _index_line(client, users["Admin"])
    assert 'class="warning"' in line
    assert "more than 26 hours ago" in line
    assert [i.level for i in attention.collect(users["Admin"]).items if i.key == "backups"] == [
        "warning"
    ]

    _run(BackupRun.Status.SUCCEEDED, hours_ago=1, size=2048)
    assert 'class="success"' in _index_line(client, users["Admin"])


def test_only_those_who_look_after_backups_see_them(client, users):
    _run(BackupRun.Status.FAILED, hours_ago=1, error="boom")
    assert _index_line(client, users["Manager"]) == ""
    assert client.get(reverse("admin:backups_backuprun_changelist")).status_code == 403
    assert not [i for i in attention.collect(users["Manager"]).items if i.key == "backups"]
    assert not [i for i in attention.collect(users["Viewer"]).items if i.key == "backups"]
