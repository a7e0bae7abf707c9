"""``manage.py media_bucket``: the bucket of MEDIA_STORAGE=s3 is made once (docker-compose's
migrate service runs it on every start), against moto's S3 server."""

from __future__ import annotations

import io
import uuid

from django.core.management import call_command


def test_the_bucket_is_made_once(settings, s3_server):
    name = f"fresh-{uuid.uuid4().hex[:10]}"
    settings.MEDIA_STORAGE = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": s3_server.storage_settings(name)}
    out = io.StringIO()
    call_command("media_bucket", stdout=out)
    assert f"Media bucket {name} created." in out.getvalue()
    s3_server.client().head_bucket(Bucket=name)
    again = io.StringIO()
    call_command("media_bucket", stdout=again)
    assert f"Media bucket {name} exists." in again.getvalue()


def test_local_media_need_no_bucket(settings):
    settings.MEDIA_STORAGE = "local"
    out = io.StringIO()
    call_command("media_bucket", stdout=out)
    assert "nothing to do" in out.getvalue()
