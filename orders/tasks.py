"""Celery tasks of the orders app: thin, idempotent, calling the intake services."""

from celery import shared_task

from utilities.infrastructure import retry_on_outage

from . import intake, sweep, uploads
from .models import Image


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
