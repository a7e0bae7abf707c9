"""Celery tasks of the AI step (queue ``ai`` by CELERY_TASK_ROUTES): thin, idempotent."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from orders.models import Image, Order

from . import services


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=5,
)
def process_order(order_id: int) -> int:
    """Queue ``process_image`` for every image of the order waiting for AI; returns the count."""
    try:
        return services.start_order_processing(order_id)
    except Order.DoesNotExist:
        return 0


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=5,
)
def process_image(image_id: int) -> str:
    """Run the order's preset on one image. Safe to run twice; returns the image's status."""
    try:
        return services.process_image(image_id).status
    except Image.DoesNotExist:
        return "deleted"
