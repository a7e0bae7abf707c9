"""Benchmark: one order of N photos through ingest and AI processing, Runware answering in L s.

Not a test: run on demand, prints figures (see docs/benchmarks.md, "Pipeline").

    .venv/bin/python bench/pipeline.py                         # N=200, L=2 s, C=4
    .venv/bin/python bench/pipeline.py --n 20 --latency 0.5 --concurrency 4
    .venv/bin/python bench/pipeline.py --latency 5 --concurrency 16

What runs, all on this machine:

- the Runware simulator, in this process, answering every task after L seconds
  (jittered 0.5-1.5 x per task by the simulator, so L on average; tasks answered in parallel);
- two real Celery workers, as deployed: ``-Q ingest`` with one prefork process per core and
  ``-Q ai --pool prefork --concurrency C``, both with ``AI_PROVIDERS=runware`` and
  ``AI_PROVIDER_CONCURRENCY={"runware": C}``, against a PostgreSQL database of its own
  (``rkh_bench``, created and migrated here),
  Redis DB 7 (flushed first: no cached results, no breaker state) and a temporary MEDIA_ROOT;
- this process makes N different 1600 x 1067 JPEGs, creates an order with a preset of the
  Runware operations asked for (``--operations``, default ``edit``: one Runware call per
  image), adds every photo with ``orders.intake.add_image`` in one transaction (so ingest
  starts at the commit) and polls the database until every image is processed,
  needs_review, failed or rejected.

C defaults to the project's ``AI_PROVIDER_CONCURRENCY["runware"]`` (4): the slots every worker
shares. The AI worker gets 1.5 x C prefork processes, as the Procfile's 6 for 4, or
``--ai-processes`` (the Runware client caps in-flight tasks per process at 4, so one process
with C threads would not reach C > 4): more processes than slots keep the slots busy while some
carry their edit onto the full-size photo.

Printed: ingest time (commit → no image left uploaded), AI time (from then → all settled;
each image's AI work starts as soon as it is ingested, so most of it overlaps the ingest),
total, the ideal ``ceil(N x k / C) x L`` (k Runware calls per image), and total / ideal.
"""

from __future__ import annotations

import argparse
import io
import json
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

from common import PMR_SECRETS, ai_processes_for, make_photos, prepare_database  # noqa: E402

DB_NAME = "rkh_bench"
REDIS_URL = "redis://127.0.0.1:6379/7"
DONE = {"processed", "needs_review", "failed", "rejected"}
WIDTH, HEIGHT = 1600, 1067


def configured_concurrency() -> int:
    """``AI_PROVIDER_CONCURRENCY["runware"]`` as the settings would read it (env or default)."""
    raw = os.environ.get("AI_PROVIDER_CONCURRENCY")
    limits = json.loads(raw) if raw else {"runware": 4, "gemini": 2, "local": 2}
    return int(limits.get("runware", 4))


def main() -> None:
    print(__import__("common").load_average("start"), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="images in the order (200)")
    parser.add_argument("--latency", type=float, default=2.0, help="simulator latency L, s (2)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="C: worker processes and Runware slots (AI_PROVIDER_CONCURRENCY['runware'])",
    )
    parser.add_argument(
        "--ai-processes",
        type=int,
        default=None,
        help="the AI worker's prefork processes (default 1.5 x C, as the Procfile's 6 for 4): more "
        "than C keep every slot busy while some carry an edit onto the full-size photo",
    )
    parser.add_argument("--operations", default="edit", help="Runware operations: edit,caption")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    concurrency = args.concurrency or configured_concurrency()
    ai_processes = args.ai_processes or ai_processes_for(concurrency)
    operations = [op.strip() for op in args.operations.split(",") if op.strip()]
    assert set(operations) <= {"edit", "caption"}, "Runware does edit and caption only"

    media = Path(tempfile.mkdtemp(prefix="rkh-bench-media-"))
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
        "AI_PROVIDERS": "runware",
        "AI_PROVIDER_CONCURRENCY": json.dumps({"runware": concurrency}),
        "RUNWARE_API_KEY": "bench-key",
    }

    from ai_processing.simulator import RunwareSimulator

    print(f"photos: making {args.n} of {WIDTH}x{HEIGHT} …", flush=True)
    photos = make_photos(args.n, args.seed, (WIDTH, HEIGHT), noise=6, quality=88)
    mb = sum(map(len, photos)) / args.n / 1e6
    print(f"photos: {mb:.2f} MB each on average", flush=True)

    sim = RunwareSimulator(latency=args.latency, seed=args.seed).start()
    env["RUNWARE_URL"] = sim.ws_url
    os.environ.update(env)
    print("database: migrate …", flush=True)
    prepare_database(DB_NAME, env, args.db_host)

    import django

    django.setup()
    for noisy in ("aiohttp.access", "httpx"):  # one line per simulator request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import httpx
    import redis
    from django.db import transaction

    from accounts import services as account_services
    from accounts.models import User
    from accounts.roles import MANAGER
    from ai_processing.models import ProcessingPreset
    from events.models import Event
    from orders import intake
    from orders import services as order_services
    from orders.models import Image
    from rkh_site.celery import app as celery_app

    redis.Redis.from_url(REDIS_URL).flushdb()  # our own DB 7 only
    log_path = media.parent / f"{media.name}-worker.log"
    name = f"bench-{os.getpid()}"
    # As deployed (docker-compose.yml): ingest on its own worker (CPU-bound: one process per
    # core), AI on another with C processes (they mostly wait for the provider).
    workers = []
    with log_path.open("wb") as log:
        for queue, processes in (("ingest", os.cpu_count() or 2), ("ai", ai_processes)):
            command = [
                str(ROOT / ".venv" / "bin" / "celery"), "-A", "rkh_site", "worker", "-Q", queue,
                "--pool", "prefork", "--concurrency", str(processes), "-n", f"{name}-{queue}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", "WARNING",
            ]  # fmt: skip
            workers.append(
                subprocess.Popen(  # noqa: S603 (the project's celery)
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
    try:
        deadline = time.monotonic() + 60
        while True:
            if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
                sys.exit(f"workers did not start:\n{log_path.read_text()[-3000:]}")
            replies = celery_app.control.inspect(timeout=0.5).ping() or {}
            if sum(n.startswith(name) for n in replies) == len(workers):
                break

        user, _ = User.objects.get_or_create(username="bench-manager")
        account_services.set_role(user, MANAGER)
        user = User.objects.get(pk=user.pk)
        event = Event.objects.create(event_id=f"BENCH-{int(time.time())}", name="Benchmark")
        preset, _ = ProcessingPreset.objects.update_or_create(
            slug="bench-" + "-".join(operations),
            defaults={
                "name": "Benchmark " + ", ".join(operations),
                "operations": operations,
                "edit_prompt": "Warm up the colours and brighten slightly",
                "caption_prompt": "Describe the photo",
            },
        )
        order = order_services.create_order(
            actor=user, event=event, customer_name="Benchmark", preset=preset
        )
        with transaction.atomic():  # the ingests are queued at the commit
            for i, data in enumerate(photos):
                intake.add_image(
                    order, source=io.BytesIO(data), filename=f"IMG_{i:04d}.jpg", actor=user
                )
        start = time.monotonic()

        ingested = None
        deadline = start + args.timeout
        while True:
            statuses = list(Image.objects.filter(order=order).values_list("status", flat=True))
            now = time.monotonic()
            if ingested is None and "uploaded" not in statuses:
                ingested = now
            if all(s in DONE for s in statuses):
                end = now
                break
            if now > deadline:
                sys.exit(f"timed out; statuses: {sorted(set(statuses))}")
            time.sleep(0.1)
        state = httpx.get(f"{sim.http_url}/_sim/state").json()
        counts: dict[str, int] = {}
        for s in statuses:
            counts[s] = counts.get(s, 0) + 1
        elapsed = [
            step["elapsed_ms"]
            for meta in Image.objects.filter(order=order).values_list("ai_metadata", flat=True)
            for op in operations
            for step in meta.get("trail", {}).get(op, [])
            if step.get("outcome") == "ok"
        ]
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        sim.stop()

    calls = args.n * len(operations)
    ideal = math.ceil(calls / concurrency) * args.latency
    ingest_s, ai_s, total = ingested - start, end - ingested, end - start
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"N={args.n} L={args.latency:g}s C={concurrency} AI processes={ai_processes} "
        f"operations={','.join(operations)} "
        f"(Runware calls: {calls}); statuses: {counts}"
    )
    print(f"ingest: {ingest_s:7.1f} s   ({ingest_s / args.n * 1000:.0f} ms/image wall)")
    print(
        f"AI:     {ai_s:7.1f} s   ideal ceil({calls}/{concurrency}) x {args.latency:g}"
        f" = {ideal:.1f} s"
    )
    print(f"total:  {total:7.1f} s")
    print(f"ratio total / ideal: {total / ideal:.3f}   (target <= 1.08, issue 14)")
    print(
        f"ratio AI / ideal:    {ai_s / ideal:.3f}   (AI after the last ingest; AI overlaps ingest)"
    )
    if elapsed:
        elapsed.sort()
        print(
            f"provider call, ms: mean {sum(elapsed) / len(elapsed):.0f}, "
            f"median {elapsed[len(elapsed) // 2]:.0f}, max {elapsed[-1]:.0f} "
            f"(simulated latency {args.latency * 1000:.0f} on average)"
        )
    print(
        f"simulator: tasks {state.get('tasks')}, max in flight {state.get('max_in_flight')}, "
        f"errors {state.get('errors')}"
    )
    shutil.rmtree(media, ignore_errors=True)
    log_path.unlink(missing_ok=True)
    print(__import__("common").load_average("end"), flush=True)


if __name__ == "__main__":
    main()
