"""The AI pipeline with media in an S3-compatible store (``MEDIA_STORAGE=s3``, moto): a real
Celery worker (``ingest,ai``) reads the original from the bucket (streamed to a temp copy for
libvips and the provider, deleted after) and writes the full-size processed file there; its
MEDIA_ROOT and the test's stay empty (``s3_media``)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvips
from django.core.files.storage import default_storage

from ai_processing.simulator.server import RunwareSimulator
from orders import intake
from orders.models import Image, Order
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.ai_processing.test_fullres import camera_like, jpeg_bytes
from tests.workers import celery_worker

WAIT_SECONDS = 120
ORIGINAL = (2400, 1600)  # larger than the edit answer: enlarged by the transfer


@pytest.fixture
def worker(s3_media, ai_settings, tmp_path, settings) -> Iterator[Path]:
    import redis

    server, bucket = s3_media
    redis.Redis.from_url(settings.REDIS_URL).delete(
        *[f"rkh:ai:breaker:{name}" for name in ("runware", "local")]
    )
    with RunwareSimulator() as runware:
        env = {
            "AI_PROVIDERS": "runware,local",
            "AI_PROVIDER_CONCURRENCY": '{"runware": 2, "local": 2}',
            "RUNWARE_URL": runware.ws_url,
            "RUNWARE_API_KEY": "test-key",
            **server.env(bucket),
        }
        with celery_worker(
            "ingest,ai", media_root=settings.MEDIA_ROOT, log_dir=tmp_path, env=env
        ) as log:
            yield log


@pytest.mark.worker
@pytest.mark.timeout(WAIT_SECONDS + 60)
@pytest.mark.django_db(transaction=True)
def test_an_edit_preset_runs_on_media_in_the_bucket(worker, s3_media, manager, make_order):
    server, bucket = s3_media
    order = make_order(manager, preset=preset("natural-retouch"))  # analyze, edit, caption
    data = jpeg_bytes(camera_like("chelsea.png", ORIGINAL), quality=92)
    image = intake.add_image(order, source=io.BytesIO(data), filename="IMG_0001.jpg", actor=manager)

    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if Order.objects.filter(pk=order.pk, ai_processed=True).exists():
            break
        time.sleep(0.2)
    else:
        image.refresh_from_db()
        pytest.fail(
            f"not AI-processed: {image.status} {image.status_reason}\n{worker.read_text()[-3000:]}"
        )

    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED, image.status_reason
    keys = server.keys(bucket)
    assert sorted(keys) == sorted(
        [image.original.name, image.preview.name, image.thumbnail.name, image.processed.name]
    )
    with default_storage.open(image.processed.name, "rb") as handle:
        processed = pyvips.Image.new_from_buffer(handle.read(), "")
    assert (processed.width, processed.height) == ORIGINAL
