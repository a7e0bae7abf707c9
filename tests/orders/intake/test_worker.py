"""The whole path with a real Celery worker process: upload commits, the worker ingests.

The worker (tests/workers.py) runs the project's own ``celery -A rkh_site
worker`` on queue ``ingest`` against the test database and media folder.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orders import intake
from orders.models import Image, Order
from tests.orders.intake import photos
from tests.workers import celery_worker

INGEST_SECONDS = 60

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ingest_worker(media_root, tmp_path) -> Iterator[Path]:
    """A ``celery worker -Q ingest`` process on the test database and media folder."""
    with celery_worker("ingest", media_root=media_root, log_dir=tmp_path) as log:
        yield log


def test_worker_ingests_an_uploaded_photo(ingest_worker, manager, make_order, media_root):
    order = make_order(manager)
    good = intake.add_image(
        order, source=io.BytesIO(photos.jpeg()), filename="IMG_0001.jpg", actor=manager
    )
    bad = intake.add_image(
        order, source=io.BytesIO(b"<html>no</html>"), filename="page.jpg", actor=manager
    )
    assert good.status == bad.status == Image.Status.UPLOADED  # queued on commit

    deadline = time.monotonic() + INGEST_SECONDS
    while time.monotonic() < deadline:
        waiting = Image.objects.filter(order=order, status=Image.Status.UPLOADED).count()
        if not waiting:
            break
        time.sleep(0.1)
    else:
        log = Path(ingest_worker).read_text()[-3000:]
        pytest.fail(f"images still uploaded after {INGEST_SECONDS}s; worker log:\n{log}")

    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == Image.Status.INGESTED, good.status_reason
    assert (good.width, good.height) == (600, 400)
    assert (Path(media_root) / good.preview.name).is_file()
    assert bad.status == Image.Status.REJECTED
    assert bad.status_reason.startswith("This is a web page (HTML)")
    assert not bad.original.name
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
