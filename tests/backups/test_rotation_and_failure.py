"""Rotation keeps BACKUP_KEEP backups; a failed backup is recorded, keeps the older backups,
leaves no half-written folder, and tells the Admins once (in the app and by e-mail)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from backups import alerts, catalog, services, tasks
from backups.models import BackupRun
from notifications.models import Delivery, Kind, Notification

pytestmark = pytest.mark.django_db(transaction=True)


def test_rotation_keeps_the_newest_backups(settings, backup_dir, media_root):
    settings.BACKUP_KEEP = 3
    made = []
    for _ in range(5):
        call_command("backup", verbosity=0)
        made.append(BackupRun.objects.order_by("-pk").first().name)

    assert len(set(made)) == 5
    assert [p.name for p in catalog.complete()] == made[-3:]
    assert sorted(p.name for p in backup_dir.iterdir()) == sorted(made[-3:])
    assert BackupRun.objects.filter(status=BackupRun.Status.SUCCEEDED).count() == 5


def test_the_daily_task_is_scheduled_and_backs_up(settings, backup_dir, media_root):
    entry = settings.CELERY_BEAT_SCHEDULE["daily-backup"]
    assert entry["task"] == tasks.daily_backup.name
    assert entry["schedule"].hour == {settings.BACKUP_HOUR}

    assert tasks.daily_backup() == BackupRun.Status.SUCCEEDED
    run = BackupRun.objects.get()
    assert run.trigger == BackupRun.Trigger.SCHEDULE
    assert catalog.latest() == backup_dir / run.name


def test_a_second_backup_while_one_runs_steps_aside(settings, backup_dir, media_root):
    from utilities import leases
    from utilities.redis_clients import shared

    with leases.exclusive(shared(), services.LEASE_KEY, 30) as held:
        assert held
        assert tasks.daily_backup() == "busy"
        with pytest.raises(CommandError, match="Another backup is running"):
            call_command("backup", verbosity=0)
    assert not BackupRun.objects.exists()


@pytest.fixture
def notify_now(settings, django_capture_on_commit_callbacks, eager_tasks):
    """Deliveries run in the test (e-mail into Django's outbox)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return django_capture_on_commit_callbacks


def test_an_unwritable_backup_dir_records_a_failed_run_and_tells_the_admins_once(
    settings, tmp_path, users, media_root, notify_now
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    settings.BACKUP_DIR = blocker / "backups"

    with notify_now(execute=True), pytest.raises(CommandError, match="The backup failed"):
        call_command("backup", verbosity=0)

    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.FAILED
    assert run.finished_at is not None
    assert "not-a-folder" in run.error
    told = Notification.objects.filter(kind=Kind.BACKUP_FAILED)
    assert list(told.values_list("user__username", flat=True)) == [users["Admin"].username]
    note = told.get()
    assert note.source_key == f"backup-run:{run.pk}"
    assert f"/admin/backups/backuprun/{run.pk}/change/" in note.url
    assert Delivery.objects.filter(notification=note, channel="email").count() == 1
    assert [m.to for m in mail.outbox if m.subject == note.title] == [[users["Admin"].email]]

    # Once: telling about the same run again makes nothing.
    with notify_now(execute=True):
        assert alerts.backup_failed(run) == 0
    assert told.count() == 1
    assert len([m for m in mail.outbox if m.subject == note.title]) == 1


def test_a_failed_backup_keeps_the_older_backups_and_leaves_no_partial_folder(
    settings, backup_dir, media_root, monkeypatch, users
):
    settings.BACKUP_KEEP = 2
    call_command("backup", verbosity=0)
    call_command("backup", verbosity=0)
    good = [p.name for p in catalog.complete()]
    # The image without PostgreSQL's client tools (the outside edge: no pg_dump on the PATH).
    monkeypatch.setenv("PATH", str(backup_dir / "no-tools-here"))

    run = services.run_backup(trigger=BackupRun.Trigger.COMMAND)

    assert run.status == BackupRun.Status.FAILED
    assert "pg_dump is not installed" in run.error
    assert [p.name for p in catalog.complete()] == good
    assert sorted(p.name for p in backup_dir.iterdir()) == sorted(good)
    assert Notification.objects.filter(kind=Kind.BACKUP_FAILED).count() == 1
