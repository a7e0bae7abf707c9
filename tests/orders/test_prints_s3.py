"""Print renditions read from an S3-compatible store (``MEDIA_STORAGE=s3``, moto): libvips
streams the original from the bucket; the same renditions as on local disk."""

from __future__ import annotations

import pytest

from .test_prints import test_renditions_are_the_crops_pixels_with_their_dpi as on_local_disk

pytestmark = pytest.mark.django_db


def test_renditions_from_the_bucket(s3_media, users, make_order, media_root, settings):
    server, bucket = s3_media
    on_local_disk(users, make_order, media_root)
    assert server.keys(bucket)  # the originals and renditions were in the bucket
