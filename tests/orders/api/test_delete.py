"""DELETE /api/v1/orders/{ref}: Admin only, never once delivered to the PMR, files removed."""

from __future__ import annotations

import os

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db.models import FileField

from orders.models import Image, Order, OrderEvent

from .conftest import API, assert_error


@pytest.fixture
def order_with_files(users, make_order, make_image, media_root):
    order = make_order(users["User"])
    images = [make_image(order), make_image(order, Image.Status.INGESTED)]
    images[1].preview.save("p.jpg", ContentFile(b"preview"), save=False)
    images[1].thumbnail.save("t.jpg", ContentFile(b"thumb"), save=False)
    images[1].processed.save("x.jpg", ContentFile(b"processed"), save=False)
    images[1].save()
    # Every rendition a row can hold, named from the model's fields (not from stored_files).
    paths = [
        os.path.join(media_root, getattr(image, field.name).name)
        for image in images
        for field in Image._meta.get_fields()
        if isinstance(field, FileField) and getattr(image, field.name)
    ]
    assert len(paths) == 5
    assert all(os.path.exists(p) for p in paths)
    return order, paths


def test_admin_deletes_order_images_timeline_and_files(
    client_as, order_with_files, django_capture_on_commit_callbacks
):
    order, paths = order_with_files
    image_ids = list(order.images.values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = client_as("Admin").delete(f"{API}/orders/{order.order_ref}")

    assert response.status_code == 204
    assert response.content == b""
    assert not Order.objects.filter(pk=order.pk).exists()
    assert not Image.objects.filter(pk__in=image_ids).exists()
    assert not OrderEvent.objects.filter(order_id=order.pk).exists()
    assert not any(os.path.exists(p) for p in paths)
    deleted = LogEntry.objects.filter(action=LogEntry.Action.DELETE)
    assert deleted.filter(
        content_type=ContentType.objects.get_for_model(Order), object_pk=str(order.pk)
    ).exists()
    assert deleted.filter(content_type=ContentType.objects.get_for_model(Image)).count() == 2


def test_files_stay_when_the_transaction_does_not_commit(client_as, order_with_files):
    """Removal waits for the commit: a test transaction never commits, so nothing goes."""
    order, paths = order_with_files
    assert client_as("Admin").delete(f"{API}/orders/{order.order_ref}").status_code == 204
    assert all(os.path.exists(p) for p in paths)


@pytest.mark.parametrize("how", ["order_flag", "synced_image", "image_pmr_url"])
def test_orders_delivered_to_the_pmr_are_never_deleted(
    client_as, order_with_files, make_image, django_capture_on_commit_callbacks, how
):
    order, paths = order_with_files
    if how == "order_flag":
        Order.objects.filter(pk=order.pk).update(pmr_synced=True)
    elif how == "synced_image":
        make_image(order, Image.Status.SYNCED)
    else:
        order.images.filter(status=Image.Status.INGESTED).update(pmr_url="https://pmr.example/1")

    with django_capture_on_commit_callbacks(execute=True):
        response = client_as("Admin").delete(f"{API}/orders/{order.order_ref}")

    error = assert_error(response, 409, "conflict")
    assert error["message"] == (
        f"Order {order.order_ref} was delivered to the PMR; it cannot be deleted. "
        "Cancel it instead."
    )
    assert Order.objects.filter(pk=order.pk).exists()
    assert order.images.count() >= 2
    assert all(os.path.exists(p) for p in paths)


def test_managers_cannot_delete(client_as, order_with_files):
    order, _paths = order_with_files
    error = assert_error(client_as("Manager").delete(f"{API}/orders/{order.order_ref}"), 403)
    assert order.order_ref in error["message"]
    assert Order.objects.filter(pk=order.pk).exists()


def test_delete_of_unknown_order_is_404(client_as):
    assert_error(client_as("Admin").delete(f"{API}/orders/ORD-2001-000001"), 404, "not_found")


def test_stored_files_names_every_file_field_of_an_image(order_with_files):
    """A rendition added to the model is deleted by every cleanup only if it is listed."""
    fields = {f.name for f in Image._meta.get_fields() if isinstance(f, FileField)}
    assert set(Image.FILE_FIELDS) == fields
    order, _paths = order_with_files
    image = order.images.get(status=Image.Status.INGESTED)
    assert len(image.stored_files()) == len(fields)
