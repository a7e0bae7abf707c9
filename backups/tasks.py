"""Celery task of backups (queue ``default``): thin; the work is in ``services``."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services
from .models import BackupRun

log = logging.getLogger(__name__)


# acks_late off: a backup may run longer than the broker's visibility timeout (300 s), which
# would hand the message to a second worker while the first still writes. Acknowledged at the
# start, a backup whose worker is killed is simply missing that day: the admin and the
# dashboard say so after BACKUP_STALE_HOURS, and the next day's runs.
@shared_task(acks_late=False, ignore_result=True)
def daily_backup() -> str:
    """Beat, once a day: back up the database and the media; the run's outcome."""
    try:
        run = services.run_backup(trigger=BackupRun.Trigger.SCHEDULE)
    except services.BackupBusy:
        log.info("Daily backup skipped: another backup is running")
        return "busy"
    return run.status
