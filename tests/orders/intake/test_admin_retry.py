"""Managers retry a failed ingest from the image admin; it goes through intake.retry_ingest."""

from __future__ import annotations

from orders import services
from orders.models import Image
from tests.orders.intake import photos


def _failed(order, add, manager) -> Image:
    image = add(order, photos.jpeg(), "a.jpg")
    services.change_image_status(image, Image.Status.FAILED, reason="worker lost")
    return image


def test_manager_retries_a_failed_ingest(client, order, add, manager):
    image = _failed(order, add, manager)
    client.force_login(manager)
    response = client.post(
        "/admin/orders/image/",
        {"action": "retry_ingest", "_selected_action": [image.pk]},
        follow=True,
    )
    assert response.status_code == 200
    image.refresh_from_db()
    assert image.status == Image.Status.UPLOADED
    assert "1 image(s) queued for ingest." in response.content.decode()


def test_an_image_past_ingest_is_refused_with_a_warning(client, order, add, ingest, manager):
    image = ingest(add(order, photos.jpeg(), "a.jpg"))  # ingested: nothing to retry
    client.force_login(manager)
    response = client.post(
        "/admin/orders/image/",
        {"action": "retry_ingest", "_selected_action": [image.pk]},
        follow=True,
    )
    image.refresh_from_db()
    assert image.status == Image.Status.INGESTED
    assert "is not waiting for an ingest retry" in response.content.decode()
