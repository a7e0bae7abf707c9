"""Celery tasks of the orders app: thin, idempotent, calling the intake services."""

import logging

from celery import shared_task

from utilities.infrastructure import retry_on_outage

from . import intake, privacy, sweep, tallies, uploads
from .models import Image

log = logging.getLogger(__name__)


@shared_task(acks_late=True, **retry_on_outage())
def ingest_image(image_id: int) -> str:
    """Validate, measure and preview one uploaded image (queue ``ingest``).

    Safe to run twice: an image that is no longer ``uploaded`` is left alone, and one
    being ingested by another delivery is skipped. Verdicts on the file, and unexpected
    errors, end in the image's status; only an outage (the database, Redis) makes the
    task retry. Returns the status.
    """
    try:
        return intake.ingest_image(image_id).status
    except Image.DoesNotExist:  # the order was deleted before its turn came
        return "deleted"


@shared_task
def abort_stale_uploads() -> int:
    """Hourly: stop uploads idle for ``UPLOAD_STALE_HOURS`` and free their orders."""
    return uploads.abort_stale_uploads()


@shared_task(**retry_on_outage())
def sweep_stuck_ingest() -> dict[str, int]:
    """Beat (``SWEEP_INTERVAL_SECONDS``): queue again the ingest of images nobody works on,
    settle orders that wait for nothing, tell staff of API orders whose client went quiet."""
    return sweep.sweep()


@shared_task(**retry_on_outage())
def sweep_orphaned_ingest() -> int:
    """Beat (``ORPHAN_SWEEP_SECONDS``): queue again the ingest of images whose worker died
    mid-ingest (``sweep.requeue_orphans``; Redis only, no query); how many."""
    return sweep.requeue_orphans(
        step="ingest",
        claims=intake.CLAIMS_KEY,
        lease_key=intake.lease_key,
        queue=intake._queue_ingest,
    )


@shared_task(**retry_on_outage())
def apply_retention() -> dict[str, int]:
    """Daily (beat): erase the files and personal data of orders whose retention period
    ended (``RETENTION_DAYS``); the totals are logged and returned."""
    report = privacy.apply_retention()
    for line in report.lines():
        log.info("retention: %s", line)
    return report.summary()


@shared_task(**retry_on_outage())
def compact_status_tallies() -> int:
    """Every minute: fold the dashboard counters' change rows into one per scope and status,
    so reading them stays one small indexed sum (``orders.tallies``)."""
    return tallies.compact()
