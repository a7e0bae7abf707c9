"""Celery tasks of the orders app: thin, idempotent, calling the intake services."""

from celery import shared_task

from . import intake


@shared_task(acks_late=True, max_retries=3, default_retry_delay=10)
def ingest_image(image_id: int) -> str:
    """Validate, measure and preview one uploaded image (queue ``ingest``).

    Safe to run twice: an image that is no longer ``uploaded`` is left alone.
    """
    return intake.ingest_image(image_id).status
