"""/api/v1/orders/{ref}/images: one file per POST through intake; cursor pages on GET."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import Image, Order

from .conftest import API, assert_error, photo


@pytest.fixture
def order(users, make_order):
    return make_order(users["User"])


def url(order) -> str:
    return f"{API}/orders/{order.order_ref}/images"


def test_upload_stores_the_file_and_answers_201(client_as, order, media_root):
    response = client_as("User").post(url(order), {"file": photo()}, format="multipart")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "uploaded"
    assert body["original_filename"] == "rocket.jpg"
    assert body["order"] == order.order_ref
    image = Image.objects.get(pk=body["id"])
    assert image.file_size == body["file_size"] > 0
    assert os.path.exists(os.path.join(media_root, image.original.name))
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert order.total_images == 1


def test_empty_file_is_rejected_with_422_and_kept_as_a_row(client_as, order):
    empty = SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg")
    response = client_as("User").post(url(order), {"file": empty}, format="multipart")

    error = assert_error(response, 422, "image_rejected")
    assert error["message"] == "File is empty (0 bytes)."
    assert error["details"]["image"]["status"] == "rejected"
    assert error["details"]["image"]["status_reason"] == "File is empty (0 bytes)."
    assert order.images.get().status == Image.Status.REJECTED


def test_oversize_file_is_rejected_with_422(client_as, order, settings):
    settings.INGEST_MAX_FILE_BYTES = 50_000
    response = client_as("User").post(url(order), {"file": photo()}, format="multipart")
    error = assert_error(response, 422, "image_rejected")
    assert "larger than" in error["message"]
    assert error["details"]["image"]["file_size"] == 112525


def test_exact_duplicate_is_rejected_with_422(client_as, order):
    client = client_as("User")
    assert client.post(url(order), {"file": photo()}, format="multipart").status_code == 201
    again = client.post(url(order), {"file": photo(upload_name="copy.jpg")}, format="multipart")
    error = assert_error(again, 422, "image_rejected")
    assert "duplicate of rocket.jpg" in error["message"]
    assert order.images.filter(status=Image.Status.UPLOADED).count() == 1


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"file": [photo(), photo("camera.png")]},
        {"file": photo(), "other": photo("camera.png")},
        {"photo": photo()},
    ],
    ids=["none", "two-under-file", "file-and-other", "wrong-field"],
)
def test_exactly_one_file_per_request(client_as, order, files):
    response = client_as("User").post(url(order), files, format="multipart")
    error = assert_error(response, 400, "invalid")
    assert "exactly one file" in error["details"]["file"][0]
    assert not order.images.exists()


def test_json_upload_is_415(client_as, order):
    response = client_as("User").post(url(order), {"file": "abc"}, format="json")
    assert_error(response, 415, "unsupported_media_type")


def test_upload_to_a_closed_order_is_409(client_as, order_in):
    closed = order_in(Order.Status.CANCELLED)
    response = client_as("Manager").post(url(closed), {"file": photo()}, format="multipart")
    assert "cancelled" in assert_error(response, 409, "conflict")["message"]
    assert not closed.images.exists()


def test_client_file_names_are_only_for_display(client_as, order, media_root):
    upload = photo(upload_name="../../etc/passwd\x00.jpg")
    response = client_as("User").post(url(order), {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    image = Image.objects.get(pk=response.json()["id"])
    assert image.original.name.startswith(f"originals/{order.pk}/")
    assert "passwd" not in image.original.name
    assert "/" not in image.original_filename


def test_list_images_in_cursor_pages(client_as, order, make_image):
    made = [make_image(order) for _ in range(5)]
    client = client_as("User")
    seen, next_url = [], f"{url(order)}?page_size=2"
    while next_url:
        body = client.get(next_url).json()
        seen += [row["id"] for row in body["results"]]
        next_url = body["next"]
    assert seen == [image.pk for image in made]


def test_images_of_another_order_are_not_listed(client_as, users, order, make_order, make_image):
    mine = make_image(order)
    make_image(make_order(users["User"]))
    body = client_as("User").get(url(order)).json()
    assert [row["id"] for row in body["results"]] == [mine.pk]


def test_a_large_text_field_with_the_file_is_fine(client_as, order):
    response = client_as("User").post(
        url(order),
        {"file": photo(), "note": "x" * 100_000},
        format="multipart",
    )
    assert response.status_code == 201


def test_malformed_multipart_is_400(client_as, order):
    response = client_as("User").post(
        url(order),
        data=io.BytesIO(b"--nope\r\ngarbage").read(),
        content_type="multipart/form-data",
    )
    assert_error(response, 400)
