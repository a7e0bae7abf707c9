"""Backups with media in an S3-compatible store (``MEDIA_STORAGE=s3``, moto): the bucket's
objects go into the backup's media archive and come back byte for byte; objects written after
the backup are removed, and nothing passes through MEDIA_ROOT (``s3_media`` checks)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.roles import ADMIN
from backups.models import BackupRun
from orders.models import Image, Order
from tests.conftest import make_user

from . import data


def _objects(server, bucket) -> dict[str, bytes]:
    client = server.client()
    return {
        key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in server.keys(bucket)
    }


@pytest.mark.django_db(transaction=True)
def test_round_trip_of_media_in_the_bucket(backup_dir, s3_media):
    server, bucket = s3_media
    admin = make_user(ADMIN)
    from events.models import Event

    event = Event.objects.create(event_id="EVT-S3-1", name="Round trip in S3")
    data.populate(admin, event)
    before = _objects(server, bucket)
    assert len(before) >= 3 * 3 + 1

    call_command("backup", verbosity=0)
    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.SUCCEEDED
    assert run.media_files == len(before)

    client = server.client()
    first = Order.objects.order_by("pk").first()
    original = Image.objects.filter(order=first).get().original.name
    client.delete_object(Bucket=bucket, Key=original)
    preview = Image.objects.order_by("pk").last().preview.name
    client.put_object(Bucket=bucket, Key=preview, Body=b"not the preview any more")
    client.put_object(Bucket=bucket, Key="stray.txt", Body=b"written after the backup")
    assert _objects(server, bucket) != before

    call_command("restore_backup", run.name, "--noinput", verbosity=0)
    assert _objects(server, bucket) == before
