"""The record of each backup run: when, how it ended, how big, and why it failed.

The files are the backup; this row is what the admin and the dashboard read to say whether
backups are being made. A restore brings back the rows of the database it restores (its own
history up to that backup).
"""

from __future__ import annotations

from django.db import models


class BackupRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Daily schedule"
        COMMAND = "command", "By hand (manage.py backup)"

    name = models.CharField(
        max_length=100, blank=True, help_text="The backup's folder in BACKUP_DIR."
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    size_bytes = models.BigIntegerField(
        null=True, blank=True, help_text="Database dump, media archive and manifest together."
    )
    media_files = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "-started_at"], name="backups_run_status_newest")]
        permissions = [("receive_backup_alerts", "Is notified when a backup fails")]

    def __str__(self) -> str:
        return f"Backup {self.name or self.pk} ({self.get_status_display()})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
