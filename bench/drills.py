"""Benchmark: the fault drills of issue 11 at full size, with production timings.

Not a test (the suite runs the same drills small and fast: tests/drills): run on demand, it
prints how long each order took to recover (see docs/benchmarks.md, "Fault drills").

    .venv/bin/python bench/drills.py                     # 40 photos of 3000x2000, every drill
    .venv/bin/python bench/drills.py --n 20 --drills ai,redis
    .venv/bin/python bench/drills.py --timings drill     # the suite's shortened timings

What runs, all on this machine (tests/drills/stack.py, as in the suite): a Valkey of its own
with its append-only file, uvicorn, a worker per step (ingest solo, AI threads x4, PMR solo),
beat, and the Runware (1 s per task), Gemini and PMR (50 ms per call) simulators in this
process; a PostgreSQL database of its own (``rkh_bench_drills``, created and migrated here).
An external system sends each order through the REST API (N photos, then submit). Drills:

- ``none``: no fault, the order's normal time;
- ``ingest``, ``ai``, ``pmr``: that worker is SIGKILLed while a task of the step is running
  (its lease is held) and some of the order is past the step, started again 1 s later;
- ``redis``: Redis is ``kill -9``-ed mid-order (AI in flight) and started again 2 s later on
  the same port and data.

Printed per drill: the order's time (first upload → completed), recovery (kill → completed),
what it waited on, and the checks of the suite's drills (completed here and at the PMR,
every image written to the PMR once, no orphan file).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import load_average, make_photos, prepare_database  # noqa: E402

DB_NAME = "rkh_bench_drills"
PRESET = "natural-retouch"
DRILLS = ("none", "ingest", "ai", "pmr", "redis")


def main() -> None:
    print(load_average("start"), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40, help="photos per order (40)")
    parser.add_argument("--size", default="3000x2000", help="photo size (3000x2000)")
    parser.add_argument("--drills", default=",".join(DRILLS), help="which, comma-separated")
    parser.add_argument("--timings", choices=("production", "drill"), default="production")
    parser.add_argument("--db-host", default="127.0.0.1")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))

    database_url = f"postgres://postgres@{args.db_host}:5432/{DB_NAME}"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.drills.settings",
            "DATABASE_URL": database_url,
            "PMR_BASE_URL": "http://127.0.0.1:9",  # replaced below, before Django starts
            "DEBUG": "1",
        }
    )
    from ai_processing.simulator.gemini import GeminiSimulator
    from ai_processing.simulator.server import RunwareSimulator
    from pmr.simulator import PMRSimulator

    with (
        PMRSimulator(port=0) as pmr,
        RunwareSimulator(seed=5, latency=1.0) as runware,
        GeminiSimulator() as gemini,
        tempfile.TemporaryDirectory(prefix="rkh-bench-drills-") as tmp,
    ):
        os.environ["PMR_BASE_URL"] = pmr.base_url
        prepare_database(DB_NAME, {**os.environ}, args.db_host)
        import django

        django.setup()
        pmr.set_faults(latency_ms=50)
        simulators = {"pmr": pmr, "runware": runware, "gemini": gemini}
        photos = make_photos(args.n, seed=11, size=(width, height), noise=18)
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}; {args.n} photos of {width}x{height} "
            f"({sum(map(len, photos)) / args.n / 1e6:.1f} MB each); {args.timings} timings"
        )
        results = run_drills(
            Path(tmp), simulators, photos, database_url, args.timings, args.drills.split(",")
        )
    print()
    print(f"{'drill':8} {'order s':>8} {'recovery s':>11}  checks")
    for name, order_s, recovery_s, checks in results:
        recovery = f"{recovery_s:11.1f}" if recovery_s is not None else f"{'-':>11}"
        print(f"{name:8} {order_s:8.1f} {recovery}  {checks}")
    print(load_average("end"), flush=True)


def run_drills(tmp, simulators, photos, database_url, timings, drills):
    from tests.drills.stack import DRILL_ENV, PRODUCTION_ENV, PrivateRedis, Stack, stack_env

    logs, media = tmp / "logs", tmp / "media"
    logs.mkdir()
    media.mkdir()
    private = PrivateRedis(tmp / "redis", logs / "redis.log")
    private.start()
    env = stack_env(
        private.url,
        media,
        simulators,
        database_url=database_url,
        timings=PRODUCTION_ENV if timings == "production" else DRILL_ENV,
    )
    env["MEDIA_ROOT"] = str(media)
    from celery import Celery

    from rkh_site.embedded_redis import free_port

    stack = Stack(private, env, logs, media, free_port())
    stack.broker = Celery("bench-control", broker=private.url, set_as_current=False)
    results = []
    try:
        for name in ("web", "ingest", "ai", "pmr", "beat"):
            stack.start(name)
        for drill in drills:
            results.append(one_drill(stack, simulators, photos, drill))
            print(f"{drill}: {results[-1]}", flush=True)
    finally:
        stack.stop_all()
        private.stop()
    return results


def one_drill(stack, simulators, photos, drill):
    import httpx

    from accounts import api_keys
    from accounts.roles import MANAGER
    from events.models import Event
    from orders.models import Image, Order
    from tests.ai_processing.pipeline import preset
    from tests.conftest import make_user

    preset(PRESET)
    event_id = f"BENCH-{drill.upper()}-{int(time.time())}"
    Event.objects.create(event_id=event_id, name=f"Drill {drill}")
    simulators["pmr"].add_events([{"event_id": event_id, "name": drill, "status": "open"}], [])
    _, key = api_keys.create_key(make_user(MANAGER, f"bench-{drill}-{time.time_ns()}"), "bench")
    client = httpx.Client(
        base_url=f"{stack.web_url}/api/v1", headers={"Authorization": f"Api-Key {key}"}, timeout=60
    )
    started = time.monotonic()
    ref = client.post(
        "/orders", json={"event": event_id, "customer_name": drill, "preset": PRESET}
    ).json()["order_ref"]
    order_id = Order.objects.get(order_ref=ref).pk
    for i, data in enumerate(photos):
        data = _fresh(data)  # new bytes per drill: no AI result cached by an earlier drill
        answer = client.post(
            f"/orders/{ref}/images", files={"file": (f"IMG_{i:04d}.jpg", data, "image/jpeg")}
        )
        answer.raise_for_status()
    client.post(f"/orders/{ref}/submit").raise_for_status()

    def count(*statuses):
        return Image.objects.filter(order_id=order_id, status__in=statuses).count()

    def leased(pattern):
        return any(True for _ in stack.redis.client().scan_iter(match=pattern, count=1000))

    triggers = {
        "ingest": lambda: count(*Image.PAST_INGEST) >= 2 and leased("rkh:ingest:image:*"),
        "ai": lambda: (
            count(Image.Status.PROCESSED, Image.Status.SYNCED) >= 2 and leased("rkh:ai:image:*")
        ),
        "pmr": lambda: count(Image.Status.SYNCED) >= 2 and leased(f"rkh:pmr:drain:{order_id}"),
        "redis": lambda: (
            count(Image.Status.PROCESSED) >= 2
            and count(Image.Status.INGESTED, Image.Status.ANALYZED) >= 2
        ),
    }
    killed = None
    if drill in triggers:
        _poll(triggers[drill], 900)
        if drill == "redis":
            stack.redis.kill()
            killed = time.monotonic()
            time.sleep(2)
            stack.redis.start()
        else:
            stack.kill(drill)
            killed = time.monotonic()
            time.sleep(1)
            stack.start(drill)

    def done():
        if not Order.objects.filter(pk=order_id, status=Order.Status.COMPLETED).exists():
            return False
        remote = next((o for o in simulators["pmr"].state()["orders"] if o["order_ref"] == ref), {})
        return remote.get("status") == "completed"

    _poll(done, 1800)
    finished = time.monotonic()
    checks = _checks(stack, simulators, ref, order_id, len(photos))
    client.close()
    return (drill, finished - started, None if killed is None else finished - killed, checks)


def _fresh(data: bytes) -> bytes:
    """The photo with one pixel changed: new bytes (no cached AI result), same look."""
    from PIL import Image as PILImage

    picture = PILImage.open(io.BytesIO(data))
    picture.putpixel((0, 0), tuple(os.urandom(3)))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


def _poll(check, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out after {seconds} s")


def _checks(stack, simulators, ref, order_id, n) -> str:
    from orders.models import Image, Order

    order = Order.objects.get(pk=order_id)
    remote = next(o for o in simulators["pmr"].state()["orders"] if o["order_ref"] == ref)
    writes = [image["writes"] for image in remote["images"]]
    names = set()
    for image in Image.objects.filter(order_id=order_id):
        for field in (image.original, image.preview, image.thumbnail, image.processed):
            if field.name:
                names.add(field.name)
    root = stack.media_root
    stored = {
        str(p.relative_to(root))
        for folder in (f"originals/{order_id}", f"renditions/{order_id}")
        for p in (root / folder).rglob("*")
        if p.is_file()
    }
    ok = (
        order.status == Order.Status.COMPLETED
        and order.failed_images == 0
        and writes == [1] * n
        and stored == names
    )
    return (
        f"{'ok' if ok else 'FAILED'}: {len(writes)}/{n} images at the PMR, writes "
        f"{sorted(set(writes))}, {len(stored - names)} orphan file(s), "
        f"{order.failed_images} failed"
    )


if __name__ == "__main__":
    main()
