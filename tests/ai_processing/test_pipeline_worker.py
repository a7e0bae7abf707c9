"""The whole path with a real Celery worker: upload, ingest, AI, processed.

One worker process (tests/workers.py) consumes both ``ingest`` and ``ai``, on
the test database and media folder, with the local provider only.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_processing.timeline import AI_COMPLETED
from orders import intake
from orders.models import Image, Order, OrderEvent
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    different_photos,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.workers import celery_worker

PIPELINE_SECONDS = 90

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(ai_settings, media_root, tmp_path, monkeypatch) -> Iterator[Path]:
    monkeypatch.setenv("AI_PROVIDERS", "local")
    monkeypatch.setenv("AI_PROVIDER_CONCURRENCY", '{"local": 2}')
    with celery_worker("ingest,ai", media_root=media_root, log_dir=tmp_path) as log:
        yield log


def test_upload_to_processed_through_the_worker(worker, manager, make_order, media_root):
    order = make_order(manager, preset=preset("colour-correct-only"))
    images = [
        intake.add_image(order, source=io.BytesIO(data), filename=f"IMG_{i}.jpg", actor=manager)
        for i, data in enumerate(different_photos(2))
    ]
    assert {image.status for image in images} == {Image.Status.UPLOADED}

    deadline = time.monotonic() + PIPELINE_SECONDS
    while time.monotonic() < deadline:
        if Order.objects.filter(pk=order.pk, ai_processed=True).exists():
            break
        time.sleep(0.2)
    else:
        states = list(Image.objects.filter(order=order).values_list("status", "status_reason"))
        log = Path(worker).read_text()[-3000:]
        pytest.fail(f"not AI-processed after {PIPELINE_SECONDS}s: {states}\nworker log:\n{log}")

    for image in Image.objects.filter(order=order):
        assert image.status == Image.Status.PROCESSED, image.status_reason
        assert image.ai_analyzed
        assert (Path(media_root) / image.processed.name).is_file()
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert order.processed_images == 2
    assert OrderEvent.objects.filter(order=order, kind=AI_COMPLETED).count() == 1
