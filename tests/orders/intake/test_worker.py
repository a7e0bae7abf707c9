"""The whole path with a real Celery worker process: upload commits, the worker ingests.

The worker runs the project's own ``celery -A rkh_site worker`` on queue
``ingest`` against the test database and the test's MEDIA_ROOT, exactly as a
deployment would; the test only polls the database for the outcome.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from orders import intake
from orders.models import Image, Order
from rkh_site.celery import app as celery_app
from tests.orders.intake import photos

ROOT = Path(__file__).resolve().parents[3]
CELERY = ROOT / ".venv" / "bin" / "celery"
START_SECONDS = 30
INGEST_SECONDS = 60

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}"
        f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def ingest_worker(media_root, tmp_path) -> Iterator[str]:
    """A ``celery worker -Q ingest`` process on the test database and media folder."""
    # Tasks left in the queue by other test runs would only delay this one:
    # drop what waits in this broker's ``ingest`` queue (nothing else) first.
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("ingest")
    name = f"ingesttest-{os.getpid()}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(media_root),
    }
    command = [
        str(CELERY), "-A", "rkh_site", "worker", "-Q", "ingest",
        "--pool", "solo", "--concurrency", "1", "-n", f"{name}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
    ]  # fmt: skip
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"worker exited while starting:\n{log_path.read_text()[-3000:]}")
            replies = celery_app.control.inspect(timeout=0.5).ping() or {}
            if any(node.startswith(f"{name}@") for node in replies):
                break
        else:
            pytest.fail(f"worker did not answer within {START_SECONDS}s")
        yield str(log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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
