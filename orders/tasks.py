"""Celery tasks of the orders app: thin, idempotent, calling the intake services."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import intake, uploads
from .models import Image


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=5,
)
def ingest_image(image_id: int) -> str:
    """Validate, measure and preview one uploaded image (queue ``ingest``).

    Safe to run twice: an image that is no longer ``uploaded`` is left alone.
    Verdicts on the file, and unexpected errors, end in the image's status;
    only a database that is away makes the task retry. Returns the status.
    """
    try:
        return intake.ingest_image(image_id).status
    except Image.DoesNotExist:  # the order was deleted before its turn came
        return "deleted"


@shared_task
def abort_stale_uploads() -> int:
    """Hourly: stop uploads idle for ``UPLOAD_STALE_HOURS`` and free their orders."""
    return uploads.abort_stale_uploads()
