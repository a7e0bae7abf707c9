"""``manage.py backup``: back up the database and the media now (as the daily beat task does).

Writes a verified backup into BACKUP_DIR, records the run (the admin's "Backup runs"), keeps
the newest BACKUP_KEEP. Exits non-zero when the backup failed (the Admins are notified too).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from backups import catalog, services
from backups.models import BackupRun


class Command(BaseCommand):
    help = "Back up the database and MEDIA_ROOT into BACKUP_DIR, verified (docs/deployment.md)."

    def handle(self, *args, **options) -> None:
        try:
            run = services.run_backup(trigger=BackupRun.Trigger.COMMAND)
        except services.BackupBusy as exc:
            raise CommandError(f"{exc} Try again when it has finished.") from exc
        if run.status != BackupRun.Status.SUCCEEDED:
            raise CommandError(f"The backup failed: {run.error}")
        if options["verbosity"] < 1:
            return
        where = catalog.folder() / run.name
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup {run.name} written and verified: {filesizeformat(run.size_bytes)}, "
                f"{run.media_files} media files, in {where}."
            )
        )
