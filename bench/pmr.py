"""Benchmark: one order of N processed images uploaded to the PMR simulator (L s per call).

Not a test: run on demand, prints figures (see docs/benchmarks.md, "PMR upload").

    .venv/bin/python bench/pmr.py                       # N=200, L=0.1 s, 0.4 MB per image
    .venv/bin/python bench/pmr.py --n 50 --latency 0.2 --concurrency 4

What runs, all on this machine:

- the PMR simulator as its own process (``python -m pmr.simulator``, as ``make run`` starts
  it), every call answered after L seconds (``/_sim/faults {"latency_ms"}``; the token call too);
- one real Celery worker, ``-Q pmr --pool solo`` (the drain of an order runs in one task; its
  uploads go out in threads, ``PMR_UPLOAD_CONCURRENCY`` = C at a time), against a PostgreSQL
  database of its own (``rkh_bench_pmr``, created and migrated here), Redis DB 8 (flushed
  first: no circuit state, no leases) and a temporary MEDIA_ROOT;
- this process makes N different JPEGs of about ``--mb`` MB, creates an order of an event the
  simulator knows, stores the images as AI-processed (no AI step: this is about delivery),
  writes the delivery into the outbox in one transaction as ``orders.pipeline.ai_settled`` does
  (the drain is queued at the commit) and polls the database until the order is completed and
  its outbox empty (the "completed" status pushed to the PMR included).

The worker first delivers a warm-up order of two images (not measured; ``--cold`` skips it):
a deployed worker delivers order after order, and what only its first order pays (the first
database connection, the first use of each code path, the PMR token) is not what this
benchmark asks about. The calls counted are those the simulator saw for the measured order.

Each image is delivered as two files (its original and its edited file: PMR contract 1.6), so
F = 2N uploads. Printed: wall time (commit → done), the ideal ``ceil(F / C) x L`` plus L for
each other PMR call the simulator counted (token, order metadata, status), and wall / ideal
(target <= 1.1, issue 14; it was 1.2).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import (  # noqa: E402
    PMR_SECRETS,
    free_port,
    make_photos,
    pmr_simulator_args,
    prepare_database,
)

DB_NAME = "rkh_bench_pmr"
REDIS_URL = "redis://127.0.0.1:6379/8"
EVENT_ID = "EVT-BENCH-PMR-0001"


def configured_concurrency() -> int:
    return int(os.environ.get("PMR_UPLOAD_CONCURRENCY", "8"))


def main() -> None:
    print(__import__("common").load_average("start"), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="images in the order (200)")
    parser.add_argument("--latency", type=float, default=0.1, help="PMR latency L, s (0.1)")
    parser.add_argument("--mb", type=float, default=0.4, help="size of an image, MB (0.4)")
    parser.add_argument("--concurrency", type=int, default=None, help="PMR_UPLOAD_CONCURRENCY")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cold", action="store_true", help="no warm-up order: the worker's first order is measured"
    )
    args = parser.parse_args()
    concurrency = args.concurrency or configured_concurrency()

    media = Path(tempfile.mkdtemp(prefix="rkh-bench-pmr-media-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rkh_site.settings",
        "DEBUG": "0",
        **PMR_SECRETS,
        "SECRET_KEY": "bench-" + "x" * 60,
        "DATABASE_URL": f"postgres://postgres@{args.db_host}:5432/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "MEDIA_ROOT": str(media),
        "PMR_BASE_URL": base_url,
        "PMR_UPLOAD_CONCURRENCY": str(concurrency),
    }

    print(f"photos: making {args.n} of about {args.mb} MB …", flush=True)
    # Noise 18 at quality 85 costs about 0.42 bytes a pixel: pick the size for the target.
    width = int(math.sqrt(args.mb * 1e6 / 0.42 * 3 / 2))
    photos = make_photos(args.n, args.seed, (width, width * 2 // 3), noise=18, quality=85)
    print(f"photos: {sum(map(len, photos)) / args.n / 1e6:.2f} MB each on average", flush=True)

    os.environ.update(env)
    print("database: migrate …", flush=True)
    prepare_database(DB_NAME, env, args.db_host)

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    import httpx
    import redis
    from django.core.files.base import ContentFile
    from django.db import transaction

    from accounts import services as account_services
    from accounts.models import User
    from accounts.roles import MANAGER
    from events.models import Event
    from orders import services as order_services
    from orders.models import Image, Order
    from pmr import outbox
    from pmr.models import OutboxEntry
    from rkh_site.celery import app as celery_app

    redis.Redis.from_url(REDIS_URL).flushdb()  # our own DB 8 only
    log_path = media.parent / f"{media.name}-worker.log"
    name = f"bench-pmr-{os.getpid()}"
    with log_path.open("wb") as log:
        simulator = subprocess.Popen(  # noqa: S603 (the project's simulator)
            [sys.executable, "-m", "pmr.simulator", "--host", "127.0.0.1", "--port", str(port),
             *pmr_simulator_args()],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        worker = subprocess.Popen(  # noqa: S603 (the project's celery)
            [
                str(ROOT / ".venv" / "bin" / "celery"), "-A", "rkh_site", "worker", "-Q", "pmr",
                "--pool", "solo", "--concurrency", "1", "-n", f"{name}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", "WARNING",
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if worker.poll() is not None or simulator.poll() is not None:
                sys.exit(f"worker or simulator exited:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                sys.exit(f"worker or simulator did not start:\n{log_path.read_text()[-3000:]}")
            try:
                httpx.get(f"{base_url}/_sim/state", timeout=1).raise_for_status()
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            replies = celery_app.control.inspect(timeout=0.5).ping() or {}
            if any(node.startswith(f"{name}@") for node in replies):
                break
        sim = httpx.Client(base_url=base_url, timeout=10)
        sim.post(
            "/_sim/events",
            json={"events": [{"event_id": EVENT_ID, "name": "Bench", "status": "open"}]},
        ).raise_for_status()

        user, _ = User.objects.get_or_create(username="bench-manager")
        account_services.set_role(user, MANAGER)
        user = User.objects.get(pk=user.pk)
        event, _ = Event.objects.get_or_create(event_id=EVENT_ID, defaults={"name": "Bench"})

        def processed_order(images: list[bytes]) -> Order:
            """An order of these images, processed and waiting for its delivery."""
            order = order_services.create_order(actor=user, event=event, customer_name="Benchmark")
            for i, data in enumerate(images):
                Image.objects.create(
                    order=order,
                    original=ContentFile(data, name=f"IMG_{i:04d}.jpg"),
                    processed=ContentFile(data, name=f"IMG_{i:04d}-processed.jpg"),
                    original_filename=f"IMG_{i:04d}.jpg",
                    file_size=len(data),
                    mime_type="image/jpeg",
                    status=Image.Status.PROCESSED,
                )
            Order.objects.filter(pk=order.pk).update(
                status=Order.Status.PROCESSING, ai_processed=True
            )
            order.refresh_from_db()
            return order

        def delivered(order: Order) -> tuple[float, float]:
            """Write the order's delivery into the outbox; (commit, done) on the monotonic
            clock, done when the order is completed and its outbox empty."""
            with transaction.atomic():  # the drain is queued at the commit
                outbox.deliver(order)
            start = time.monotonic()
            deadline = start + args.timeout
            while True:
                status = Order.objects.filter(pk=order.pk).values_list("status", flat=True).get()
                open_rows = (
                    OutboxEntry.objects.filter(order=order)
                    .exclude(state__in=OutboxEntry.FINAL)
                    .count()
                )
                if status == Order.Status.COMPLETED and open_rows == 0:
                    return start, time.monotonic()
                if OutboxEntry.objects.filter(order=order, state=OutboxEntry.State.FAILED).exists():
                    sys.exit("a PMR write failed: " + log_path.read_text()[-3000:])
                if time.monotonic() > deadline:
                    sys.exit(f"timed out; {open_rows} rows open\n{log_path.read_text()[-3000:]}")
                time.sleep(0.02)

        warm_up = None if args.cold else processed_order(photos[:2])
        order = processed_order(photos)
        sim.post("/_sim/faults", json={"latency_ms": round(args.latency * 1000)})
        if warm_up is not None:
            delivered(warm_up)
        # Only the measured order's calls count (the warm-up's token, if any, is reused).
        before = sim.get("/_sim/state").json()["calls"]
        start, end = delivered(order)
        state = sim.get("/_sim/state").json()
    finally:
        for process in (worker, simulator):
            process.terminate()
        for process in (worker, simulator):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    (remote,) = [o for o in state["orders"] if o["order_ref"] == order.order_ref]
    writes = [image["writes"] for image in remote["images"]]
    # Each image goes as its original and its edited file (PMR contract 1.6): 2N uploads.
    files = len(remote["files"])
    file_writes = [f["writes"] for f in remote["files"]]
    calls = {
        route: n - before.get(route, 0)
        for route, n in state["calls"].items()
        if "/_sim/" not in route and n > before.get(route, 0)
    }
    image_calls = sum(n for route, n in calls.items() if "/images/" in route)
    other_calls = sum(calls.values()) - image_calls
    ideal = (math.ceil(files / concurrency) + other_calls) * args.latency
    total = end - start
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f", load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"N={args.n} L={args.latency:g}s C={concurrency} image size {args.mb:g} MB, "
        + ("a cold worker (its first order)" if args.cold else "after a warm-up order of 2")
    )
    print(f"PMR calls: {calls}")
    print(
        f"PMR: order {remote['status']}, {len(writes)} images, {files} files, writes per "
        f"file {sorted(set(file_writes))}"
    )
    print(f"wall:  {total:7.2f} s   ({total / args.n * 1000:.1f} ms/image)")
    print(
        f"ideal: {ideal:7.2f} s   = (ceil({files}/{concurrency}) + {other_calls} other calls)"
        f" x {args.latency:g} s"
    )
    print(f"ratio wall / ideal: {total / ideal:.3f}   (target <= 1.1)")
    shutil.rmtree(media, ignore_errors=True)
    log_path.unlink(missing_ok=True)
    print(__import__("common").load_average("end"), flush=True)


if __name__ == "__main__":
    main()
