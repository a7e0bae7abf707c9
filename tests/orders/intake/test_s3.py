"""Intake and ingest with media in an S3-compatible store (``MEDIA_STORAGE=s3``, moto):
every file goes to the bucket once, nothing to MEDIA_ROOT (``s3_media`` checks)."""

from __future__ import annotations

import hashlib

import pytest

from orders.models import Image
from tests.orders.intake import photos

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fmt", ["JPEG", "HEIF"])
def test_original_and_renditions_are_in_the_bucket(s3_media, order, upload, fmt):
    server, bucket = s3_media
    data = photos.encode(photos.photo(), fmt, quality=90)
    image = upload(order, data, f"photo.{fmt.lower()}")
    assert image.status == Image.Status.INGESTED, image.status_reason
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    keys = server.keys(bucket)
    assert sorted(keys) == sorted([image.original.name, image.preview.name, image.thumbnail.name])
    assert keys[image.original.name] == len(data)
    assert image.width
    assert image.height


def test_a_refused_file_leaves_no_object(s3_media, order, upload):
    server, bucket = s3_media
    image = upload(order, b"not an image at all" * 50, "photo.jpg")
    assert image.status == Image.Status.REJECTED
    assert server.keys(bucket) == {}


def test_a_missing_original_is_a_failure_not_a_crash(s3_media, order, add, ingest):
    server, bucket = s3_media
    image = add(order, photos.encode(photos.photo(), "JPEG"), "photo.jpg")
    server.client().delete_object(Bucket=bucket, Key=image.original.name)
    result = ingest(image)
    assert result.status in (Image.Status.FAILED, Image.Status.REJECTED)
