"""Resumable uploads with media in an S3-compatible store (``MEDIA_STORAGE=s3``, moto).

The chunks live in the shared store, so any web process can continue an upload: nothing is
written to MEDIA_ROOT (the ``s3_media`` fixture checks it stays empty)."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from orders import uploads
from orders.models import Image, Upload

from .test_uploads import CHUNK, _open, payload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_chunks(settings, s3_media):
    settings.UPLOAD_CHUNK_BYTES = CHUNK
    return s3_media


@pytest.fixture
def user_client(client, users):
    client.force_login(users["User"])
    return client


def test_chunks_collect_in_the_bucket_and_become_the_original(
    user_client, upload_api, own_order, small_chunks
):
    server, bucket = small_chunks
    data = payload(2500)
    upload_id = _open(upload_api, own_order, data, "IMG_0001.JPG")
    upload = Upload.objects.get(pk=upload_id)
    for offset in (0, 1000):
        response = upload_api.patch(own_order, upload_id, data[offset : offset + CHUNK], offset)
        assert response.status_code == 200, response.content
    keys = server.keys(bucket)
    assert sorted(keys) == [
        f"uploads/{upload.pk.hex}/{0:015d}-1000.chunk",
        f"uploads/{upload.pk.hex}/{1000:015d}-1000.chunk",
    ]
    response = upload_api.patch(own_order, upload_id, data[2000:], 2000)
    assert response.json()["done"] is True
    image = Image.objects.get(pk=response.json()["image"]["id"])
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    # Only the original is left: the chunks are gone, written once each.
    assert server.keys(bucket) == {image.original.name: 2500}
    with default_storage.open(image.original.name, "rb") as stored:
        assert stored.read() == data


def test_junk_chunk_of_a_failed_attempt_is_replaced(
    user_client, upload_api, own_order, small_chunks
):
    data = payload(1800, seed=3)
    upload_id = _open(upload_api, own_order, data)
    assert upload_api.patch(own_order, upload_id, data[:CHUNK], 0).status_code == 200
    upload = Upload.objects.get(pk=upload_id)
    junk = f"{uploads.part_folder(upload)}/{CHUNK:015d}-1200.chunk"
    default_storage.save(junk, ContentFile(b"JUNK" * 300))
    response = upload_api.patch(own_order, upload_id, data[CHUNK:], CHUNK)
    assert response.json()["done"] is True
    image = Image.objects.get(upload__pk=upload_id)
    assert image.sha256 == hashlib.sha256(data).hexdigest()


def test_lost_chunks_stop_the_upload_with_410(user_client, upload_api, own_order, small_chunks):
    server, bucket = small_chunks
    data = payload(1500)
    upload_id = _open(upload_api, own_order, data)
    assert upload_api.patch(own_order, upload_id, data[:CHUNK], 0).status_code == 200
    uploads.delete_parts(Upload.objects.get(pk=upload_id))
    response = upload_api.patch(own_order, upload_id, data[CHUNK:], CHUNK)
    assert (response.status_code, response.json()["error"]["code"]) == (410, "part_missing")
    assert Upload.objects.get(pk=upload_id).status == "aborted"
    assert server.keys(bucket) == {}


def test_discarding_drops_the_chunks(client, users, upload_api, own_order, small_chunks):
    server, bucket = small_chunks
    client.force_login(users["User"])
    data = payload(1500)
    upload_id = _open(upload_api, own_order, data)
    assert upload_api.patch(own_order, upload_id, data[:CHUNK], 0).status_code == 200
    assert len(server.keys(bucket)) == 1
    assert client.delete(upload_api.url(own_order, upload_id)).status_code == 200
    assert server.keys(bucket) == {}
