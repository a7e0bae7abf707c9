"""Benchmark: a whole order of N camera photos: upload, ingest, AI, approval, PMR delivery.

Not a test: run on demand, prints figures (see docs/benchmarks.md, "A whole order").

    .venv/bin/python bench/order.py --n 20 --keep /tmp/bench-order-photos
    .venv/bin/python bench/order.py --n 200 --keep /tmp/bench-order-photos   # L=5 s, C=16

What runs, all on this machine, as the Procfile runs it (production settings, DEBUG=0):

- the web process: ``uvicorn rkh_site.asgi:application``;
- ``worker``: ``celery worker -Q default,ingest,pmr --concurrency 2`` (prefork, as the Procfile);
- ``worker-ai``: ``celery worker -Q ai --concurrency A`` (prefork; A defaults to 1.5 x C, as the
  Procfile's 6 processes for its 4 slots: a process carrying its edit onto the full-size photo
  has given its slot back, and another keeps the slot busy);
- the Runware simulator (``python -m ai_processing.simulator --latency L``: every task answered
  after L s, jittered 0.5-1.5 x, in parallel) and the PMR simulator (``python -m pmr.simulator
  --latency-ms``), each in its own process;
- ``beat`` (its sweeps queue again work nobody holds, as deployed);
- PostgreSQL (database ``rkh_bench_order``, created and migrated here) and Redis DB 8 (flushed).

N different 24-megapixel JPEGs (6000 x 4000, quality 90) are made from the licensed photos in
/work/shared/data/photos (a region of one enlarged with pyvips, under a random low-frequency
pattern of its own, so the near-duplicate check holds none for review; with sensor-like
noise) and kept in ``--keep``/photos-v2. An order is made with a preset that holds for
approval (Runware ``edit``). Then this process does what the order page's script does
(static/js/upload.js, orders/uploads.py): three files at a time, ``POST …/uploads/`` ``{filename,
size, id}`` then ``PATCH`` chunks of the server's ``chunk_size`` at ``Upload-Offset``, signed in
by a session cookie with the CSRF token of the order page. It waits for the order to reach
``awaiting_approval``, approves it at once through ``POST /api/v1/orders/{ref}/approve`` (same
session), and waits for ``completed``.

Printed: each stage's window from the first upload request (upload: until the last chunk's
answer; ingest: until no image is ``uploaded``; AI: until the order awaits approval; approval:
the API call and the order moving on; delivery: until the order is completed), the total, and the
ideal = the slowest of (a) the upload's bytes over the loopback's measured throughput, (b) the
ingest's decode floor: N x a bare ``pyvips.Image.thumbnail(path, 2048)`` / cores, (c) ceil(N / C) x
L; the ratio total / ideal (target <= 1.3); each process tree's peak memory (psutil, sampled every
0.25 s, and the kernel's high-water mark of its largest process); the load average before and
after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import (  # noqa: E402
    PMR_SECRETS,
    ai_processes_for,
    free_port,
    load_average,
    pmr_simulator_args,
    prepare_database,
)

DB_NAME = "rkh_bench_order"
REDIS_URL = "redis://127.0.0.1:6379/8"
SOURCES = Path("/work/shared/data/photos")
WIDTH, HEIGHT = 6000, 4000
PREVIEW_SIZE = 2048
PARALLEL = 3  # files in flight, as static/js/upload.js (PARALLEL)
BIN = ROOT / ".venv" / "bin"


# --- photos ---------------------------------------------------------------------------------


def picture(index: int, width: int = WIDTH, height: int = HEIGHT):
    """Photo ``index``: one of the licensed photos, a region of it enlarged, under a faint
    random low-frequency pattern of its own (seeded by ``index``), so that no two of them are
    near-duplicates to the perceptual hash (which ignores flips and turns) and none is sent to
    review; with sensor-like noise."""
    import numpy as np
    import pyvips

    sources = sorted(p for p in SOURCES.iterdir() if p.suffix.lower() in (".png", ".jpg"))
    source = pyvips.Image.new_from_file(str(sources[index % len(sources)]))
    if source.bands == 1:
        source = source.colourspace("srgb")
    if source.bands == 4:
        source = source.flatten()
    place = (index // len(sources)) % 9  # a region of a 2x enlargement: 9 places
    scale = 2 * max(width / source.width, height / source.height)
    big = source.resize(scale, kernel="lanczos3")
    left = (big.width - width) * (place % 3) // 2
    top = (big.height - height) * (place // 3) // 2
    big = big.crop(left, top, width, height)
    grid = np.random.default_rng(index).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    coarse = pyvips.Image.new_from_memory(grid.tobytes(), 8, 6, 3, "uchar")
    coarse = coarse.resize(width / 8, vscale=height / 6, kernel="linear")
    noise = pyvips.Image.gaussnoise(width, height, sigma=6, mean=0)
    # 8 x 6 cells at 60 %: the closest two of 200 are 10 bits apart (review: 6 or fewer).
    return (big * 0.4 + coarse * 0.6 + noise.bandjoin([noise, noise])).cast("uchar")


def make_photo(index: int, folder: str) -> str:
    """One 6000 x 4000 camera-like JPEG (q90), ``picture(index)``."""
    path = Path(folder) / f"IMG_{index:04d}.jpg"
    picture(index).jpegsave(str(path), Q=90)
    return str(path)


def make_photos(n: int, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [folder / f"IMG_{i:04d}.jpg" for i in range(n)]
    missing = [i for i, p in enumerate(wanted) if not p.exists()]
    if missing:
        print(f"photos: making {len(missing)} of {WIDTH}x{HEIGHT} in {folder} …", flush=True)
        spawn = multiprocessing.get_context("spawn")  # a forked libvips may inherit held locks
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=spawn) as pool:
            list(pool.map(make_photo, missing, [str(folder)] * len(missing)))
    return wanted


# --- the ideal's parts ----------------------------------------------------------------------


def _sink(port_queue, total: int) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port_queue.put(server.getsockname()[1])
        conn, _ = server.accept()
        with conn:
            got = 0
            while got < total:
                chunk = conn.recv(4 * 1024 * 1024)
                if not chunk:
                    break
                got += len(chunk)


def loopback_mb_s(total: int = 1024 * 1024 * 1024) -> float:
    """Bytes a second one TCP connection carries over 127.0.0.1, to a receiver in another
    process (the upload's bytes cannot go faster than this)."""
    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    receiver = ctx.Process(target=_sink, args=(ports, total))
    receiver.start()
    port = ports.get(timeout=30)
    block = os.urandom(8 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.perf_counter()
        sent = 0
        while sent < total:
            sock.sendall(block)
            sent += len(block)
    receiver.join(timeout=60)
    return total / (time.perf_counter() - started) / 1e6


def thumbnail_ms(paths: list[Path]) -> float:
    """Median ms of the cheapest preview libvips makes: ingest's decode floor per image."""
    import pyvips

    times = []
    for path in paths:
        started = time.perf_counter()
        pyvips.Image.thumbnail(str(path), PREVIEW_SIZE).jpegsave_buffer()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


# --- processes ------------------------------------------------------------------------------


class Processes:
    """The installation's processes, started in sessions of their own, and their memory."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen] = {}
        self.peak_rss: dict[str, float] = {}  # MB, the tree's sum at its highest sample
        self.peak_hwm: dict[str, float] = {}  # MB, VmHWM of the tree's largest process
        self.cpu: dict[str, dict[int, float]] = {}  # CPU seconds per process, last sample
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        with (self.logs / f"{name}.log").open("ab") as out:
            self.procs[name] = subprocess.Popen(  # noqa: S603 (the project's own programs)
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        return self.procs[name]

    def log(self, name: str, chars: int = 3000) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-chars:]

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                sys.exit(f"{name} exited ({proc.returncode}):\n{self.log(name)}")

    def sample_from_now(self) -> None:
        self._sampler.start()

    def _sample(self) -> None:
        import psutil

        me = os.getpid()
        while not self._stop.is_set():
            roots = {"bench (this process)": me} | {n: p.pid for n, p in self.procs.items()}
            for name, pid in roots.items():
                try:
                    root = psutil.Process(pid)
                    tree = [root] + (root.children(recursive=True) if pid != me else [])
                except psutil.NoSuchProcess:
                    continue
                rss = hwm = 0.0
                for proc in tree:
                    try:
                        rss += proc.memory_info().rss / 1e6
                        hwm = max(hwm, _vm_hwm_mb(proc.pid))
                        times = proc.cpu_times()
                        self.cpu.setdefault(name, {})[proc.pid] = times.user + times.system
                    except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
                        pass
                self.peak_rss[name] = max(self.peak_rss.get(name, 0.0), rss)
                self.peak_hwm[name] = max(self.peak_hwm.get(name, 0.0), hwm)
            self._stop.wait(0.25)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time each tree used (user + system, its processes' last samples)."""
        return {name: sum(per.values()) for name, per in sorted(self.cpu.items())}

    def stop_all(self) -> None:
        self._stop.set()
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _vm_hwm_mb(pid: int) -> float:
    """The kernel's record of the process's peak resident memory (VmHWM), MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1000
    return 0.0


def wait_until(check, seconds: float, what: str, processes: Processes, poll: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        processes.check()
        time.sleep(poll)
    sys.exit(f"timed out after {seconds:.0f} s waiting for {what}")


# --- the browser's upload -------------------------------------------------------------------


def upload_all(base: str, create_path: str, cookies: dict, csrf: str, paths: list[Path]) -> int:
    """Every file through the resumable protocol, PARALLEL at a time; the bytes sent."""
    import httpx

    def one(path: Path) -> int:
        data = path.read_bytes()
        with httpx.Client(base_url=base, cookies=cookies, timeout=120) as client:
            answer = client.post(
                create_path,
                json={"filename": path.name, "size": len(data), "id": str(uuid.uuid4())},
                headers={"Accept": "application/json", "X-CSRFToken": csrf},
            )
            answer.raise_for_status()
            location, body = answer.headers["Location"], answer.json()
            offset, chunk = body["offset"], body["chunk_size"]
            while offset < len(data):
                answer = client.patch(
                    location,
                    content=data[offset : offset + chunk],
                    headers={
                        "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream",
                        "X-CSRFToken": csrf,
                    },
                )
                answer.raise_for_status()
                offset = answer.json()["offset"]
        return len(data)

    with ThreadPoolExecutor(PARALLEL) as pool:
        return sum(pool.map(one, paths))


def _stop(signum, frame) -> None:
    """Leave through ``finally`` (which stops the processes), once: a second signal waits."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(f"stopped by signal {signum}")


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="photos in the order (200)")
    parser.add_argument("--latency", type=float, default=5.0, help="Runware latency L, s (5)")
    parser.add_argument("--concurrency", type=int, default=16, help="C: Runware slots (16)")
    parser.add_argument("--ai-processes", type=int, default=None, help="worker-ai (1.5 x C)")
    parser.add_argument("--pmr-latency", type=float, default=0.1, help="PMR per call, s (0.1)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the photos here")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args()
    print(load_average("start"), flush=True)
    # SIGTERM (and SIGINT, ignored in a background job) stop the processes started here.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ai_processes = args.ai_processes or ai_processes_for(args.concurrency)

    scratch = Path(tempfile.mkdtemp(prefix="rkh-bench-order-"))
    folder = (args.keep or scratch) / "photos-v2"  # v2: no near-duplicates
    paths = make_photos(args.n, folder)
    total_bytes = sum(p.stat().st_size for p in paths)
    print(f"photos: {args.n}, {total_bytes / args.n / 1e6:.1f} MB each on average", flush=True)

    print("ideal: loopback and decode floor …", flush=True)
    loopback = loopback_mb_s()
    thumb_ms = thumbnail_ms(paths[: min(len(paths), 5)])

    port, runware_port, pmr_port = free_port(), free_port(), free_port()
    logs = scratch / "logs"
    logs.mkdir()
    tag = f"bench-order-{os.getpid()}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rkh_site.settings",
        "DEBUG": "0",
        **PMR_SECRETS,
        "SECRET_KEY": "bench-" + "x" * 60,
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DATABASE_URL": f"postgres://postgres@{args.db_host}:5432/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CHANNELS_PREFIX": tag,
        "CACHE_KEY_PREFIX": tag,
        "MEDIA_ROOT": str(scratch / "media"),
        # Production serves hashed static files (whitenoise's manifest): collected below.
        "STATIC_ROOT": str(ROOT / "var" / "bench-static"),
        "AI_PROVIDERS": "runware",
        "AI_PROVIDER_CONCURRENCY": json.dumps({"runware": args.concurrency}),
        "RUNWARE_URL": f"ws://127.0.0.1:{runware_port}/v1",
        "RUNWARE_API_KEY": "bench-key",
        "PMR_BASE_URL": f"http://127.0.0.1:{pmr_port}",
        "API_THROTTLE_RATE": "100000/minute",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    os.environ.update(env)
    print("database: migrate …", flush=True)
    prepare_database(DB_NAME, env, args.db_host)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip

    import django

    django.setup()
    import httpx
    import redis
    from django.test import Client

    from accounts import services as account_services
    from accounts.models import User
    from accounts.roles import MANAGER
    from ai_processing.models import ProcessingPreset
    from events.models import Event
    from orders import services as order_services
    from orders.models import Image, Order
    from rkh_site.celery import app as celery_app

    redis.Redis.from_url(REDIS_URL).flushdb()  # our own DB only: no cache, breaker, slots
    processes = Processes(env, logs)
    load_before = os.getloadavg()
    try:
        processes.start("runware-sim", [
            str(BIN / "python"), "-m", "ai_processing.simulator", "--host", "127.0.0.1",
            "--port", str(runware_port), "--latency", str(args.latency), "--seed", "1",
        ])  # fmt: skip
        processes.start("pmr-sim", [
            str(BIN / "python"), "-m", "pmr.simulator", "--host", "127.0.0.1",
            "--port", str(pmr_port), "--latency-ms", str(round(args.pmr_latency * 1000)),
            "--webhook-url", f"http://127.0.0.1:{port}/api/v1/pmr/webhook",
            "--blob-dir", str(scratch / "pmr-blobs"), *pmr_simulator_args(),
        ])  # fmt: skip
        processes.start("web", [
            str(BIN / "uvicorn"), "rkh_site.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--no-server-header", "--log-level", "warning",
        ])  # fmt: skip
        workers = {"worker": ("default,ingest,pmr", 2), "worker-ai": ("ai", ai_processes)}
        for name, (queues, concurrency) in workers.items():
            processes.start(name, [
                str(BIN / "celery"), "-A", "rkh_site", "worker", "-Q", queues,
                "--concurrency", str(concurrency), "-n", f"{tag}-{name}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", "WARNING",
            ])  # fmt: skip
        processes.start("beat", [
            str(BIN / "celery"), "-A", "rkh_site", "beat", "--loglevel", "WARNING",
            "--schedule", str(scratch / "celerybeat-schedule"),
        ])  # fmt: skip
        processes.sample_from_now()

        def workers_up() -> bool:
            replies = celery_app.control.inspect(timeout=0.5).ping() or {}
            return sum(n.startswith(tag) for n in replies) == len(workers)

        def web_up() -> bool:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except OSError as exc:
                return bool(getattr(exc, "code", None))  # 503 answers too
            return True

        def sims_up() -> bool:
            try:
                httpx.get(f"http://127.0.0.1:{runware_port}/_sim/state", timeout=2)
                httpx.get(f"http://127.0.0.1:{pmr_port}/_sim/state", timeout=2)
            except httpx.HTTPError:
                return False
            return True

        wait_until(sims_up, 60, "the simulators", processes)
        wait_until(web_up, 90, "uvicorn", processes)
        wait_until(workers_up, 90, "the workers", processes)

        event_id = f"ORDER-{int(time.time())}"
        httpx.post(
            f"http://127.0.0.1:{pmr_port}/_sim/events",
            json={"events": [{"event_id": event_id, "name": "Bench", "status": "open"}]},
        ).raise_for_status()
        user, _ = User.objects.get_or_create(
            username="bench-order", defaults={"email": "bench-order@example.com"}
        )
        account_services.set_role(user, MANAGER)
        user = User.objects.get(pk=user.pk)
        event = Event.objects.create(event_id=event_id, name="A whole order")
        preset, _ = ProcessingPreset.objects.update_or_create(
            slug="bench-order-edit-hold",
            defaults={
                "name": "Benchmark: edit, held for approval",
                "operations": ["edit"],
                "edit_prompt": "Warm up the colours and brighten slightly",
                "hold_for_approval": True,
                "auto_approve_hours": None,
            },
        )
        order = order_services.create_order(
            actor=user, event=event, customer_name="Benchmark", preset=preset
        )
        ref, order_id = order.order_ref, order.pk
        login = Client()
        login.force_login(user)
        cookies = {"sessionid": login.cookies["sessionid"].value}
        base = f"http://127.0.0.1:{port}"
        page = httpx.get(f"{base}/orders/{ref}/", cookies=cookies, timeout=30)
        page.raise_for_status()
        cookies.update(dict(page.cookies))
        csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
        create_path = re.search(r'data-create-url="([^"]+)"', page.text).group(1)

        def order_status() -> str:
            return Order.objects.filter(pk=order_id).values_list("status", flat=True)[0]

        def statuses() -> list[str]:
            return list(Image.objects.filter(order_id=order_id).values_list("status", flat=True))

        marks: dict[str, float] = {}

        def watch() -> None:
            """Ingest's end, seen from the database while the uploads go on."""
            while "ingest" not in marks:
                s = statuses()
                if "upload" in marks and len(s) == args.n and "uploaded" not in s:
                    marks["ingest"] = time.monotonic()
                time.sleep(0.1)

        print(f"order {ref}: uploading {args.n} photos, {PARALLEL} at a time …", flush=True)
        watcher = threading.Thread(target=watch, daemon=True)
        t0 = time.monotonic()
        watcher.start()
        sent = upload_all(base, create_path, cookies, csrf, paths)
        marks["upload"] = time.monotonic()
        print(f"  upload done: {marks['upload'] - t0:.1f} s", flush=True)
        watcher.join(timeout=args.timeout)
        print(f"  ingest done: {marks['ingest'] - t0:.1f} s", flush=True)

        progress = {"next": time.monotonic() + 30}

        def held() -> bool:
            status = order_status()
            if time.monotonic() > progress["next"]:
                progress["next"] = time.monotonic() + 30
                seen: dict[str, int] = {}
                for s in statuses():
                    seen[s] = seen.get(s, 0) + 1
                print(
                    f"  {time.monotonic() - t0:6.0f} s: {seen}; {load_average('now')}", flush=True
                )
            if status in ("needs_review", "failed", "cancelled"):
                sys.exit(f"order {ref} went to {status}; images: {sorted(set(statuses()))}")
            return status == "awaiting_approval"

        wait_until(held, args.timeout, "awaiting_approval", processes, poll=0.1)
        marks["ai"] = time.monotonic()
        print(f"  AI done (awaiting approval): {marks['ai'] - t0:.1f} s", flush=True)
        answer = httpx.post(
            f"{base}/api/v1/orders/{ref}/approve",
            cookies=cookies,
            headers={"X-CSRFToken": csrf, "Accept": "application/json"},
            timeout=120,
        )
        answer.raise_for_status()
        wait_until(lambda: order_status() != "awaiting_approval", 120, "approval", processes, 0.05)
        marks["approval"] = time.monotonic()
        print(f"  approved: {marks['approval'] - t0:.1f} s", flush=True)
        wait_until(lambda: order_status() == "completed", args.timeout, "completed", processes)
        marks["delivery"] = time.monotonic()
        print(f"  completed: {marks['delivery'] - t0:.1f} s", flush=True)
        load_after = os.getloadavg()
        remote = httpx.get(f"http://127.0.0.1:{pmr_port}/_sim/state", timeout=30).json()
        runware = httpx.get(f"http://127.0.0.1:{runware_port}/_sim/state", timeout=30).json()
        final = statuses()
        steps: dict[str, list[float]] = {}
        trails = Image.objects.filter(order_id=order_id).values_list("ai_metadata", flat=True)
        for meta in trails:
            for step, tries in (meta or {}).get("trail", {}).items():
                for one in tries:
                    if one.get("outcome") == "ok" and one.get("elapsed_ms") is not None:
                        steps.setdefault(step, []).append(one["elapsed_ms"] / 1000)
    finally:
        processes.stop_all()

    at_pmr = next((o for o in remote.get("orders", []) if o["order_ref"] == ref), {})
    upload_ideal = sent / (loopback * 1e6)
    decode_ideal = args.n * thumb_ms / 1000 / (os.cpu_count() or 1)
    ai_ideal = math.ceil(args.n / args.concurrency) * args.latency
    ideal = max(upload_ideal, decode_ideal, ai_ideal)
    total = marks["delivery"] - t0
    counts: dict[str, int] = {}
    for s in final:
        counts[s] = counts.get(s, 0) + 1
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average before "
        f"{' '.join(f'{x:.2f}' for x in load_before)}, after "
        f"{' '.join(f'{x:.2f}' for x in load_after)}"
    )
    print(
        f"N={args.n} L={args.latency:g}s C={args.concurrency} worker-ai processes="
        f"{ai_processes} PMR latency={args.pmr_latency:g}s; {sent / 1e6:.0f} MB uploaded"
    )
    print(
        f"images: {counts}; at the PMR: {at_pmr.get('status')}, "
        f"{len(at_pmr.get('images', []))} images; Runware tasks {runware.get('tasks')}, "
        f"max in flight {runware.get('max_in_flight')}"
    )
    print(f"{'stage':10} {'from s':>8} {'to s':>8} {'wall s':>8}")
    previous = 0.0
    for stage in ("upload", "ingest", "ai", "approval", "delivery"):
        end = marks[stage] - t0
        start = 0.0 if stage in ("upload", "ingest") else previous
        print(f"{stage:10} {start:8.1f} {end:8.1f} {end - start:8.1f}")
        previous = end
    print(f"{'total':10} {0:8.1f} {total:8.1f} {total:8.1f}")
    print(
        f"ideal: {ideal:.1f} s = max(upload {sent / 1e6:.0f} MB / {loopback:.0f} MB/s loopback "
        f"= {upload_ideal:.1f} s, decode floor {args.n} x {thumb_ms:.0f} ms / "
        f"{os.cpu_count()} cores = {decode_ideal:.1f} s, ceil({args.n}/{args.concurrency}) x "
        f"{args.latency:g} s = {ai_ideal:.1f} s)"
    )
    print(f"ratio total / ideal: {total / ideal:.2f}   (target <= 1.3)")
    for step, seconds in sorted(steps.items()):
        seconds.sort()
        print(
            f"AI step {step}: {len(seconds)} calls, wall s per image: median "
            f"{seconds[len(seconds) // 2]:.1f}, max {seconds[-1]:.1f}"
        )
    cpu = processes.cpu_seconds()
    print("CPU seconds per process tree: " + ", ".join(f"{n} {c:.0f}" for n, c in cpu.items()))
    print("peak memory, MB: process tree (sum of RSS, sampled) / largest process (VmHWM)")
    for name in sorted(processes.peak_rss):
        print(f"  {name:22} {processes.peak_rss[name]:8.0f} {processes.peak_hwm[name]:8.0f}")
    shutil.rmtree(scratch, ignore_errors=True)
    print(load_average("end"), flush=True)


if __name__ == "__main__":
    main()
