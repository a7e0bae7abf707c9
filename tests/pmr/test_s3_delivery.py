"""PMR delivery with media in an S3-compatible store (``MEDIA_STORAGE=s3``, moto): originals
and edited files are streamed from the bucket to the PMR simulator, each written once."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from django.core.files.storage import default_storage

from orders.models import Image, Order
from pmr import drain
from pmr.models import OutboxEntry

from .conftest import remote_order
from .test_variant_delivery import files_of, prints  # noqa: F401 (fixture)


@pytest.fixture
def media_root(s3_media, settings):
    """The bucket is the media: MEDIA_ROOT must stay empty (``s3_media`` checks)."""
    return settings.MEDIA_ROOT


@pytest.mark.django_db
def test_every_file_is_streamed_from_the_bucket_and_written_once(
    s3_media,
    sim,
    pmr_event,
    ai_done_order,
    prints,  # noqa: F811 (the fixture)
):
    order = ai_done_order(2)
    assert not drain.drain_order(order.pk).blocked
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    files = files_of(remote_order(sim, order))
    assert len(files) == 8
    assert {f["writes"] for f in files.values()} == {1}
    for image in order.images.all():
        ref = f"img-{image.pk}"
        assert files[(ref, "original", None)]["sha256"] == image.sha256
        with default_storage.open(image.processed.name, "rb") as handle:
            edited = hashlib.sha256(handle.read()).hexdigest()
        assert files[(ref, "edited", None)]["sha256"] == edited
        assert files[(ref, "edited", None)]["dpi"] == 4  # the header was read from the bucket


@pytest.mark.django_db
def test_a_file_gone_from_the_bucket_is_refused_not_a_crash(
    s3_media, sim, pmr_event, ai_done_order
):
    server, bucket = s3_media
    order = ai_done_order(3)
    missing = order.images.order_by("pk")[1]
    server.client().delete_object(Bucket=bucket, Key=missing.original.name)

    assert drain.drain_order(order.pk).blocked
    bad = OutboxEntry.objects.get(order=order, image=missing, state=OutboxEntry.State.FAILED)
    assert bad.payload["variant"] == "original"
    assert bad.last_error["code"] == "file_missing"
    assert Image.objects.get(pk=missing.pk).status != Image.Status.SYNCED


@pytest.mark.django_db
def test_the_zip_export_streams_the_files_from_the_bucket(
    s3_media, sim, pmr_event, ai_done_order, client, users
):
    order = ai_done_order(2)
    drain.drain_order(order.pk)
    client.force_login(users["Manager"])
    response = client.get(f"/pmr/orders/{order.order_ref}/export.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    files = sorted(n for n in archive.namelist() if n.startswith("images/"))
    assert len(files) == 4  # per image the original and the edited file, as the PMR has them
    stored = set()
    for image in order.images.all():
        for field in (image.original, image.processed):
            with default_storage.open(field.name, "rb") as handle:
                stored.add(handle.read())
    assert {archive.read(name) for name in files} == stored


@pytest.mark.django_db
def test_originals_are_streamed_to_those_who_may_see_them(s3_media, ai_done_order, client, users):
    order = ai_done_order(1, deliver=False, owner=users["User"])
    image = order.images.get()
    url = f"/orders/{order.order_ref}/images/{image.pk}/original"
    client.force_login(users["other"])
    assert client.get(url).status_code == 404  # the same access rule as on local disk
    client.force_login(users["User"])
    response = client.get(url)
    assert response.status_code == 200
    with default_storage.open(image.original.name, "rb") as handle:
        assert b"".join(response.streaming_content) == handle.read()
    server, bucket = s3_media
    server.client().delete_object(Bucket=bucket, Key=image.original.name)
    assert client.get(url).status_code == 404  # gone from the bucket: not found, not a 500
