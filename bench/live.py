"""Benchmark: from an order's status change to the WebSocket client's message, across processes.

Not a test: run on demand, prints figures (see docs/benchmarks.md, "Live status").

    .venv/bin/python bench/live.py                   # 100 paced + 200 burst images
    .venv/bin/python bench/live.py --paced 50 --burst 100

What runs, all on this machine, each in its own process:

- a web process: ``uvicorn rkh_site.asgi:application`` with production settings
  (``DEBUG=0``), which serves the WebSocket;
- a real Celery worker (``-Q ingest,ai``, solo pool, ``AI_PROVIDERS=local``), which
  ingests each image and runs a no-operation preset on it: it writes most of the
  status changes (``image.status_changed`` ingested and processed, the order's
  status, ``order.ai_completed``);
- this process: it creates the order, adds the images (``image.added``, through
  ``orders.intake.add_image``, one commit each) and listens on the web process with
  the ``websockets`` package, signed in by a session cookie.

PostgreSQL database ``rkh_bench_live`` (created and migrated here), Redis DB 11
(under a channel and cache prefix of its own, not flushed), a temporary MEDIA_ROOT.

Two phases on one order:

- **paced**: an image every ``--interval`` seconds (default 0.25, longer than the
  100 ms flush interval), so each change travels alone: the pipeline's own latency;
- **burst**: ``--burst`` images added as fast as ``add_image`` goes; the worker then
  ingests them back to back: changes arrive faster than one per flush interval and
  are coalesced, so this is the latency of a busy order.

Latency of an entry = the client's clock when the message holding it arrives minus
the entry's ``created_at`` (stamped by the writing process when the row is inserted,
just before its commit, so the figure includes the end of the writing transaction).
Same machine, same wall clock. Also printed: WebSocket messages per entry, and that
every number arrived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import PMR_SECRETS, free_port, load_average, make_photos, prepare_database  # noqa: E402

DB_NAME = "rkh_bench_live"
REDIS_URL = "redis://127.0.0.1:6379/11"
SIZE = (320, 240)


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - the project's own programs
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Listener:
    """A WebSocket client on a thread of its own: records (arrival, entry) per event."""

    def __init__(self, url: str, origin: str, cookie: str) -> None:
        self.url, self.origin, self.cookie = url, origin, cookie
        self.received: list[tuple[float, dict]] = []
        self.messages = 0
        #: Latency of entries that travelled alone: the first of a message that came
        #: more than a flush interval after the previous one (no coalescing delay).
        self.alone: list[float] = []
        self.ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        from websockets.asyncio.client import connect

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with connect(
            self.url, origin=self.origin, additional_headers={"Cookie": self.cookie}
        ) as ws:
            first = json.loads(await ws.recv())
            assert first["type"] == "events", first
            self.ready.set()
            previous = time.time()
            while not self._stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.2)
                except TimeoutError:
                    continue
                arrived = time.time()
                message = json.loads(raw)
                if message.get("type") != "events":
                    continue
                self.messages += 1
                if message["events"] and arrived - previous > 0.15:
                    self.alone.extend(latencies_ms([(arrived, message["events"][0])]))
                previous = arrived
                self.received.extend((arrived, entry) for entry in message["events"])

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(15):
            sys.exit("the WebSocket client did not get its first message")

    def wait_for(self, seq: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.received and self.received[-1][1]["seq"] >= seq:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)


def latencies_ms(received: list[tuple[float, dict]]) -> list[float]:
    return [
        (arrived - dt.datetime.fromisoformat(entry["at"]).timestamp()) * 1000
        for arrived, entry in received
    ]


def describe(label: str, values: list[float], messages: int | None = None) -> str:
    values = sorted(values)
    p95 = values[max(0, round(0.95 * len(values)) - 1)]
    where = f" in {messages:4d} messages" if messages is not None else " " * 14
    return (
        f"{label:<7} {len(values):4d} entries{where}   p50 {statistics.median(values):6.1f} ms"
        f"   p95 {p95:6.1f} ms   max {values[-1]:6.1f} ms"
    )


def main() -> None:
    print(load_average("start"), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paced", type=int, default=100, help="images added one by one (100)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between them")
    parser.add_argument("--burst", type=int, default=200, help="images added at once (200)")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="rkh-bench-live-"))
    tag = f"bench-live-{os.getpid()}"
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rkh_site.settings",
        "DEBUG": "0",
        **PMR_SECRETS,
        "SECRET_KEY": "bench-" + "x" * 60,
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"postgres://postgres@{args.db_host}:5432/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CHANNELS_PREFIX": tag,
        "CACHE_KEY_PREFIX": tag,
        "MEDIA_ROOT": str(scratch / "media"),
        "AI_PROVIDERS": "local",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    photos = make_photos(args.paced + args.burst, args.seed, SIZE)
    os.environ.update(env)
    print("database: migrate …", flush=True)
    prepare_database(DB_NAME, env, args.db_host)

    import django

    django.setup()
    from django.test import Client

    from accounts import services as account_services
    from accounts.models import User
    from accounts.roles import MANAGER
    from ai_processing.models import ProcessingPreset
    from events.models import Event
    from orders import intake, live
    from orders import services as order_services
    from orders.models import Order
    from rkh_site.celery import app as celery_app

    with celery_app.connection_for_write() as conn:  # leftovers of an interrupted run
        for queue in ("ingest", "ai"):
            conn.default_channel.queue_purge(queue)
    worker = start(
        [str(ROOT / ".venv" / "bin" / "celery"), "-A", "rkh_site", "worker", "-Q", "ingest,ai",
         "--pool", "solo", "-n", f"{tag}@%h", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel", "WARNING"],
        env, scratch / "worker.log",
    )  # fmt: skip
    web = start(
        [str(ROOT / ".venv" / "bin" / "uvicorn"), "rkh_site.asgi:application", "--host",
         "127.0.0.1", "--port", str(port), "--no-server-header", "--log-level", "warning"],
        env, scratch / "web.log",
    )  # fmt: skip
    listener = None
    try:
        deadline = time.monotonic() + 60
        while not any(
            n.startswith(tag) for n in (celery_app.control.inspect(timeout=0.5).ping() or {})
        ):
            if worker.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"worker did not start:\n{(scratch / 'worker.log').read_text()[-3000:]}")
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError as exc:  # 503 (no pmr worker) is fine: it answers
                if getattr(exc, "code", None):
                    break
                if web.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"web did not start:\n{(scratch / 'web.log').read_text()[-3000:]}")
                time.sleep(0.1)

        user, _ = User.objects.get_or_create(
            username="bench-live", defaults={"email": "bench-live@example.com"}
        )
        account_services.set_role(user, MANAGER)
        user = User.objects.get(pk=user.pk)
        event = Event.objects.create(event_id=f"LIVE-{int(time.time())}", name="Live benchmark")
        preset, _ = ProcessingPreset.objects.update_or_create(
            slug="bench-live-none", defaults={"name": "Benchmark: no operation", "operations": []}
        )
        order = order_services.create_order(
            actor=user, event=event, customer_name="Live benchmark", preset=preset
        )
        client = Client()
        client.force_login(user)
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        after = Order.objects.get(pk=order.pk).last_event_seq
        listener = Listener(
            f"ws://127.0.0.1:{port}/ws/orders/{order.order_ref}/?after={after}",
            f"http://127.0.0.1:{port}",
            cookie,
        )
        listener.start()

        def add(i: int) -> None:
            intake.add_image(
                order, source=io.BytesIO(photos[i]), filename=f"IMG_{i:04d}.jpg", actor=user
            )

        def settle(timeout: float = 120) -> int:
            """Wait until the worker is done and the client has everything; the last seq."""
            deadline = time.monotonic() + timeout
            last = -1
            while time.monotonic() < deadline:
                time.sleep(1.0)
                now = Order.objects.get(pk=order.pk).last_event_seq
                if now == last and listener.wait_for(now, 5):
                    return now
                last = now
            sys.exit("the order did not settle")

        print(f"paced: {args.paced} images, one every {args.interval:g} s …", flush=True)
        for i in range(args.paced):
            add(i)
            time.sleep(args.interval)
        paced_last = settle()
        paced = [(a, e) for a, e in listener.received if e["seq"] <= paced_last]
        paced_messages = listener.messages

        print(f"burst: {args.burst} images at once …", flush=True)
        for i in range(args.paced, args.paced + args.burst):
            add(i)
        burst_last = settle()
        burst = [(a, e) for a, e in listener.received if paced_last < e["seq"] <= burst_last]
        burst_messages = listener.messages - paced_messages
        seqs = [e["seq"] for _a, e in listener.received]
    finally:
        if listener is not None:
            listener.close()
        live.publisher.flush()
        stop(web)
        stop(worker)
        with celery_app.connection_for_write() as conn:  # e.g. PMR work nobody consumes here
            for queue in ("ingest", "ai", "pmr", "default"):
                conn.default_channel.queue_purge(queue)

    exact = seqs == list(range(after + 1, burst_last + 1))
    kinds: dict[str, int] = {}
    for _a, entry in listener.received:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    worker_written = [(a, e) for a, e in listener.received if e["kind"] != "image.added"]
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"flush interval {live.flush_interval() * 1000:.0f} ms; entries by kind: {kinds}")
    print(f"every number once, in order: {exact} ({after + 1}..{burst_last})")
    print(describe("paced", latencies_ms(paced), paced_messages))
    print(describe("burst", latencies_ms(burst), burst_messages))
    print(describe("all", latencies_ms(listener.received), listener.messages))
    print(describe("worker", latencies_ms(worker_written)) + "   (entries the worker wrote)")
    print(describe("alone", listener.alone) + "   (first entry after a quiet spell: no coalescing)")
    shutil.rmtree(scratch, ignore_errors=True)
    print(load_average("end"), flush=True)


if __name__ == "__main__":
    main()
