"""Benchmark: ingest and PMR delivery with media in an S3-compatible store against local disk.

Not a test: run on demand, prints figures (see docs/benchmarks.md).

    .venv/bin/python -m rkh_site.embedded_redis --wrap -- .venv/bin/python bench/storage.py
    ... bench/storage.py --n 20 --mb 1.5 --rounds 2

In one process and one run, for each storage in turn (local disk, then moto's S3 server started
here on a free port, then both again for ``--rounds`` > 1), it times

- ingest: ``intake.add_image`` then ``intake.ingest_image`` of N camera-like JPEGs (store the
  original, then validate, measure, preview and thumbnail it: what an upload costs), and
- PMR delivery: ``drain.drain_order`` of an order of N processed images (original and edited
  file each) to the PMR simulator in this process (every file read from the storage, streamed);

and prints seconds, per-image milliseconds and the S3/local ratio of each, with the load average
before and after. The S3 server is moto (Python): a real object store (MinIO, AWS) has other
latencies; the ratio says what going through the storage API and the network costs here.
Database: ``rkh_bench_storage`` (created and migrated when missing), settings ``tests.settings``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import make_photos, prepare_database  # noqa: E402

DB_NAME = "rkh_bench_storage"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20, help="images per measure (20)")
    parser.add_argument("--mb", type=float, default=1.5, help="size of an image, MB (1.5)")
    parser.add_argument("--rounds", type=int, default=2, help="local/S3 pairs (2)")
    parser.add_argument("--db-host", default="127.0.0.1")
    args = parser.parse_args()

    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://postgres@{args.db_host}:5432/{DB_NAME}",
        # The tasks that follow (AI, delivery) wait in the broker, unconsumed: only the
        # measured steps run, here.
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "MEDIA_STORAGE": "local",
    }
    os.environ.update(env)
    print(f"load before: {load()}", flush=True)
    print("database: migrate …", flush=True)
    prepare_database(DB_NAME, {**os.environ}, args.db_host)

    width = int(math.sqrt(args.mb * 1e6 / 0.42 * 3 / 2))
    photos = make_photos(args.n, 7, (width, width * 2 // 3), noise=18, quality=85)
    edited = make_photos(args.n, 8, (width, width * 2 // 3), noise=18, quality=85)
    print(f"photos: {args.n} of {sum(map(len, photos)) / args.n / 1e6:.2f} MB", flush=True)

    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)
    import redis
    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.db import transaction
    from django.test.utils import override_settings

    from accounts import services as account_services
    from accounts.models import User
    from accounts.roles import MANAGER
    from events.models import Event
    from orders import intake
    from orders import services as order_services
    from orders.models import Image, Order
    from pmr import drain, outbox
    from pmr.simulator import PMRSimulator
    from tests.s3_server import running_s3

    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # the wrapper's own Redis
    user, _ = User.objects.get_or_create(username="bench-storage")
    account_services.set_role(user, MANAGER)

    results: dict[str, dict[str, list[float]]] = {
        "local": {"ingest": [], "deliver": []},
        "s3": {"ingest": [], "deliver": []},
    }

    def new_order(sim) -> Order:
        event = Event.objects.create(event_id=f"BENCH-{uuid.uuid4().hex[:8]}", name="Bench")
        sim.add_events([{"event_id": event.event_id, "name": event.name, "status": "open"}], [])
        return order_services.create_order(actor=user, event=event, customer_name="Bench")

    def ingest(sim) -> float:
        order = new_order(sim)
        started = time.perf_counter()
        for i, data in enumerate(photos):
            image = intake.add_image(
                order, source=io.BytesIO(data), filename=f"IMG_{i:04d}.jpg", actor=user
            )
            assert intake.ingest_image(image.pk).status == Image.Status.INGESTED
        return time.perf_counter() - started

    def deliver(sim) -> float:
        order = new_order(sim)
        for i, (original, processed) in enumerate(zip(photos, edited, strict=True)):
            Image.objects.create(
                order=order,
                original=ContentFile(original, name=f"IMG_{i:04d}.jpg"),
                processed=ContentFile(processed, name=f"IMG_{i:04d}-processed.jpg"),
                original_filename=f"IMG_{i:04d}.jpg",
                file_size=len(original),
                mime_type="image/jpeg",
                sha256=hashlib.sha256(original).hexdigest(),
                width=width,
                height=width * 2 // 3,
                status=Image.Status.PROCESSED,
            )
        Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING, ai_processed=True)
        order.refresh_from_db()
        with transaction.atomic():
            outbox.deliver(order)
        started = time.perf_counter()
        result = drain.drain_order(order.pk)
        elapsed = time.perf_counter() - started
        assert not result.blocked, result
        assert Order.objects.get(pk=order.pk).status == Order.Status.COMPLETED
        return elapsed

    with (
        PMRSimulator(port=0) as sim,
        running_s3() as s3,
        tempfile.TemporaryDirectory(prefix="bench-storage-") as scratch,
    ):
        settings.PMR_BASE_URL = sim.base_url
        bucket = s3.new_bucket()
        storages = {
            "local": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "s3": s3.storage_settings(bucket),
        }
        for round_ in range(args.rounds):
            for name in ("local", "s3"):
                with override_settings(
                    MEDIA_ROOT=str(Path(scratch) / name),
                    MEDIA_STORAGE=name,
                    STORAGES={**settings.STORAGES, "default": storages[name]},
                ):
                    seconds = ingest(sim)
                    results[name]["ingest"].append(seconds)
                    sent = deliver(sim)
                    results[name]["deliver"].append(sent)
                    if name == "s3":  # the bucket was used, not the disk
                        assert s3.keys(bucket)
                        assert not (Path(scratch) / "s3").exists()
                print(
                    f"round {round_ + 1} {name:5}: ingest {seconds:6.2f} s "
                    f"({seconds / args.n * 1000:5.0f} ms/image), PMR delivery {sent:6.2f} s "
                    f"({sent / args.n * 1000:5.0f} ms/image)",
                    flush=True,
                )

    print()
    for step in ("ingest", "deliver"):
        local = statistics.median(results["local"][step])
        remote = statistics.median(results["s3"][step])
        label = "ingest" if step == "ingest" else "PMR delivery"
        print(
            f"{label:13}: local {local / args.n * 1000:6.0f} ms/image, "
            f"S3 {remote / args.n * 1000:6.0f} ms/image, ratio S3/local {remote / local:.2f}"
        )
    print(f"load after: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
