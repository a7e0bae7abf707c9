"""Backups with media in an S3-compatible store (``MEDIA_STORAGE=s3``, moto): the bucket's
objects go into the backup's media archive and come back byte for byte; objects written after
the backup are removed, and nothing passes through MEDIA_ROOT (``s3_media`` checks)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

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


@pytest.mark.django_db(transaction=True)
def test_backups_are_copied_to_the_backup_bucket_and_restored_from_it(
    backup_dir, media_root, settings, s3_server
):
    """Local media, backups copied off the machine to a bucket: a backup lost with its disk
    comes back from the bucket (``restore_backup --download --latest``)."""
    import shutil

    bucket = s3_server.new_bucket()
    settings.BACKUP_S3_BUCKET = bucket
    settings.BACKUP_S3_OPTIONS = {
        **s3_server.storage_settings(bucket)["OPTIONS"],
        "file_overwrite": True,
    }
    admin = make_user(ADMIN)
    from events.models import Event

    event = Event.objects.create(event_id="EVT-S3-2", name="Off the machine")
    data.populate(admin, event)
    before = data.snapshot(media_root)

    call_command("backup", verbosity=0)
    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.SUCCEEDED, run.error
    local = backup_dir / run.name
    uploaded = s3_server.keys(bucket)
    assert sorted(uploaded) == sorted(f"{run.name}/{p.name}" for p in local.iterdir())
    assert all(uploaded[f"{run.name}/{p.name}"] == p.stat().st_size for p in local.iterdir())

    shutil.rmtree(local)  # the backup disk is lost
    data.mutate(media_root)
    call_command("restore_backup", "--download", "--latest", "--noinput", verbosity=0)
    assert data.snapshot(media_root) == before
    assert (backup_dir / run.name / "SHA256SUMS").is_file()


@pytest.mark.django_db(transaction=True)
def test_a_failed_copy_to_the_bucket_fails_the_run(backup_dir, media_root, settings, s3_server):
    settings.BACKUP_S3_BUCKET = "no-such-bucket"
    settings.BACKUP_S3_OPTIONS = s3_server.storage_settings("no-such-bucket")["OPTIONS"]
    with pytest.raises(CommandError, match="NoSuchBucket"):  # the command says so, non-zero
        call_command("backup", verbosity=0)
    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.FAILED
    assert "NoSuchBucket" in run.error
