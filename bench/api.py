"""Benchmark: the REST API's hot reads under 50 concurrent clients, on a large database.

Not a test: run on demand, prints figures (see docs/benchmarks.md, "API").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rkh REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/api.py                      # the ASGI app, as deployed
    .venv/bin/python bench/api.py --interface wsgi         # the same views through WSGI
    .venv/bin/python bench/api.py --reseed --duration 30 --workers 2

1. A bench database of its own (``<name>_bench_api`` beside ``DATABASE_URL``'s,
   or ``BENCH_DATABASE_URL``) is migrated and, once, filled by bulk inserts:
   10,000 orders over 40 events and 200,000 images (1% of the orders hold
   1,000 images each, the rest about 10), dates spread over a year.
2. Queries per request, in-process (Django's test client and
   ``CaptureQueriesContext``) at ``page_size`` 10 and 100: a list must run the
   same number of queries whatever its page size (no N+1).
3. A real ``uvicorn`` (the project's ASGI app as deployed, or ``--interface
   wsgi``; production settings, ``--workers`` processes) on loopback, and 50
   clients (asyncio + aiohttp, one connection each) authenticating with an
   Admin's API key, against
   ``GET /orders``, ``GET /orders/{ref}`` and ``GET /orders/{ref}/images``:

   - *paced*: each client sends a request, waits 0.5-1.5 s (uniform), and
     again, as integrations that poll do: about 50 requests/s in all;
     p50/p95/p99 latency per endpoint;
   - *saturated*: each client sends its next request as soon as the last
     answer arrives: the throughput ceiling, and the latency that queueing
     for it costs (Little's law: 50 clients / throughput).

   The throttle stays on, at a rate no client reaches, so its Redis round
   trips are in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import PMR_SECRETS, free_port  # noqa: E402

API = "/api/v1"
ENDPOINTS = ("order list", "order detail", "image list")


# --- environment ---------------------------------------------------------------------


def bench_database_url() -> str:
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rkh")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("bench/api.py needs PostgreSQL: set DATABASE_URL or BENCH_DATABASE_URL")
    name = parts.path.lstrip("/") or "rkh"
    return urlunsplit(parts._replace(path=f"/{name}_bench_api"))


def server_env(database_url: str, interface: str = "asgi3") -> dict[str, str]:
    """Production settings (DEBUG off: no query log), HTTP on loopback, a throttle nobody hits.

    Under ASGI Django runs each request's sync code in a thread of its own, so a
    persistent connection (``CONN_MAX_AGE``) is never reused and they pile up until
    PostgreSQL refuses more ("too many clients"). The settings' connection pool
    (``DB_POOL_MAX_SIZE``, on by default) is what serves; ``DB_POOL_MAX_SIZE=0`` in the
    environment measures without it (then one connection per request under ASGI).
    """
    return {
        "DB_CONN_MAX_AGE": "0" if interface == "asgi3" else "60",
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        **PMR_SECRETS,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "API_THROTTLE_RATE": "10000000/minute",
        "CACHE_KEY_PREFIX": "rkh-bench-api",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "rkh_site.settings",
    }


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


# --- data ----------------------------------------------------------------------------------


def seed(n_orders: int, n_images: int, reseed: bool) -> None:
    """Bulk-insert the orders and images (skipped when the counts already match)."""
    from django.db import connection, transaction

    from accounts import services as account_services
    from accounts.models import User
    from events.models import Event
    from orders.models import Image, Order, OrderRefSequence

    if not reseed and Order.objects.count() == n_orders and Image.objects.count() == n_images:
        print(f"data: {n_orders} orders, {n_images} images already there")
        return
    started = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Everything that hangs off orders and events goes too (CASCADE).
            cursor.execute(
                "TRUNCATE orders_image, orders_orderevent, orders_order, events_event CASCADE"
            )
        owner, _ = User.objects.get_or_create(
            username="bench-owner", defaults={"email": "bench-owner@bench.example"}
        )
        account_services.set_role(owner, "User")
        events = Event.objects.bulk_create(
            Event(event_id=f"BENCH-{i:03d}", name=f"Bench event {i}") for i in range(40)
        )
        start = datetime(2025, 1, 1, tzinfo=UTC)
        rng = random.Random(7)  # noqa: S311  (repeatable data, not secrets)
        statuses = list(Order.Status.values)
        orders = [
            Order(
                order_ref=f"ORD-2025-{i + 1:06d}",
                event=events[i % len(events)],
                customer_name=f"Customer {i}",
                customer_email=f"customer{i}@bench.example",
                order_date=start + timedelta(minutes=52 * i),
                status=rng.choice(statuses),
                created_by=owner,
            )
            for i in range(n_orders)
        ]
        Order.objects.bulk_create(orders, batch_size=2000)
        with connection.cursor() as cursor:
            # auto_now_add stamped them all "now": spread them like a year of orders.
            cursor.execute(
                "UPDATE orders_order SET created_at = order_date, updated_at = order_date"
            )
        OrderRefSequence.objects.update_or_create(year=2025, defaults={"last_value": n_orders})
        big = max(1, n_orders // 100)
        per_big = min(1000, n_images // (2 * big))
        rest = n_images - big * per_big
        counts = [per_big] * big + [0] * (n_orders - big)
        for j in range(rest):
            counts[big + j % (n_orders - big)] += 1
        ids = list(Order.objects.order_by("id").values_list("id", flat=True))
        batch: list[Image] = []
        made = 0
        for order_id, count in zip(ids, counts, strict=True):
            for k in range(count):
                made += 1
                batch.append(
                    Image(
                        order_id=order_id,
                        original=f"originals/{order_id}/{made:08x}.jpg",
                        original_filename=f"IMG_{k:04d}.jpg",
                        file_size=5_000_000 + made % 1000,
                        mime_type="image/jpeg",
                        width=6000,
                        height=4000,
                        sha256=f"{made:064x}",
                        status=Image.Status.INGESTED,
                    )
                )
            if len(batch) >= 10_000:
                Image.objects.bulk_create(batch, batch_size=10_000)
                batch = []
        Image.objects.bulk_create(batch, batch_size=10_000)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE orders_order o SET total_images = c.n, ingested_images = c.n FROM "
                "(SELECT order_id, count(*) AS n FROM orders_image GROUP BY order_id) c "
                "WHERE c.order_id = o.id"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"data: {n_orders} orders, {Image.objects.count()} images "
        f"({big} orders of {per_big} images) in {time.perf_counter() - started:.0f} s"
    )


def bench_key() -> tuple[str, list[str], list[str]]:
    """A fresh API key of an Admin; sample order refs (small and big orders)."""
    from accounts import api_keys
    from accounts import services as account_services
    from accounts.models import User
    from orders.models import Order

    admin, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"email": "bench-admin@bench.example"}
    )
    account_services.set_role(admin, "Admin")
    _, raw = api_keys.create_key(admin, "bench/api.py")
    refs = list(Order.objects.values_list("order_ref", flat=True))
    big = list(Order.objects.order_by("-total_images").values_list("order_ref", flat=True)[:100])
    return raw, refs, big


# --- queries per request ----------------------------------------------------------------------


def query_counts(raw_key: str, ref: str) -> dict[str, dict[int, int]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    paths = {
        "order list": f"{API}/orders?page_size={{n}}",
        "order detail": f"{API}/orders/{ref}",
        "image list": f"{API}/orders/{ref}/images?page_size={{n}}",
        "event orders": f"{API}/events/BENCH-001/orders?page_size={{n}}",
        "order history": f"{API}/orders/{ref}/history?page_size={{n}}",
    }
    for path in paths.values():  # the key's last use, caches (content types): not counted
        client.get(path.format(n=10))
    counts: dict[str, dict[int, int]] = {}
    for name, path in paths.items():
        counts[name] = {}
        for size in (10, 100):
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path.format(n=size))
            assert response.status_code == 200, (path, response.status_code, response.content)
            counts[name][size] = len(captured.captured_queries)
    return counts


# --- load ---------------------------------------------------------------------------------------


def start_server(env: dict[str, str], workers: int, interface: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    app = "rkh_site.asgi:application" if interface == "asgi3" else "rkh_site.wsgi:application"
    command = [
        str(ROOT / ".venv" / "bin" / "uvicorn"),
        app,
        "--interface",
        interface,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603
    return process, f"http://127.0.0.1:{port}"


async def wait_ready(base: str, key: str, timeout: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(headers={"Authorization": f"Api-Key {key}"}) as client:
        while time.monotonic() < deadline:
            try:
                async with client.get(f"{base}{API}/users/profile") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit("uvicorn did not come up")


def target(endpoint: str, rng: random.Random, refs: list[str], big: list[str]) -> str:
    if endpoint == "order list":
        return f"{API}/orders"
    if endpoint == "order detail":
        return f"{API}/orders/{rng.choice(refs)}"
    # Half the image lists are of the 1,000-image orders.
    ref = rng.choice(big) if rng.random() < 0.5 else rng.choice(refs)
    return f"{API}/orders/{ref}/images"


async def run_load(
    base: str,
    key: str,
    endpoint: str,
    refs: list[str],
    big: list[str],
    clients: int,
    duration: float,
    paced: bool,
) -> tuple[list[float], int, float]:
    """Latencies (ms) of successful requests, failures, elapsed seconds.

    aiohttp, not httpx: the load generator shares the two cores with the server,
    and aiohttp spends a fraction of httpx's CPU per request.
    """
    import aiohttp

    latencies: list[float] = []
    failures = 0
    stop_at = time.monotonic() + duration

    async def client_loop(index: int) -> None:
        nonlocal failures
        rng = random.Random(index)  # noqa: S311
        async with aiohttp.ClientSession(
            base_url=base,
            headers={"Authorization": f"Api-Key {key}"},
            connector=aiohttp.TCPConnector(limit=1),  # one connection per client
            timeout=aiohttp.ClientTimeout(total=30),
        ) as client:
            if paced:  # spread the clients' first requests over a second
                await asyncio.sleep(rng.random())
            while time.monotonic() < stop_at:
                path = target(endpoint, rng, refs, big)
                started = time.perf_counter()
                async with client.get(path) as response:
                    await response.read()
                    ok = response.status == 200
                elapsed = (time.perf_counter() - started) * 1000
                if ok:
                    latencies.append(elapsed)
                else:
                    failures += 1
                if paced:
                    await asyncio.sleep(rng.uniform(0.5, 1.5))

    started = time.monotonic()
    await asyncio.gather(*(client_loop(i) for i in range(clients)))
    return latencies, failures, time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load_all(args, base: str, key: str, refs: list[str], big: list[str]) -> None:
    # Warm-up: every worker opens its database connection and imports lazily loaded code.
    await run_load(base, key, "order list", refs, big, 10, 3, paced=False)
    for mode, paced in (("paced", True), ("saturated", False)):
        duration = args.duration if paced else args.duration / 2
        print(f"\n{mode}: {args.clients} clients, {duration:.0f} s per endpoint")
        print("endpoint       requests  req/s   p50 ms   p95 ms   p99 ms  failures")
        for endpoint in ENDPOINTS:
            latencies, failures, elapsed = await run_load(
                base, key, endpoint, refs, big, args.clients, duration, paced
            )
            print(
                f"{endpoint:13s} {len(latencies):9d} {len(latencies) / elapsed:6.0f} "
                f"{percentile(latencies, 0.50):8.1f} {percentile(latencies, 0.95):8.1f} "
                f"{percentile(latencies, 0.99):8.1f} {failures:9d}"
            )


def main() -> int:
    print(__import__("common").load_average("start"), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20, help="seconds per endpoint (paced)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--reseed", action="store_true", help="insert the data again")
    parser.add_argument(
        "--interface",
        choices=["asgi3", "wsgi"],
        default="asgi3",
        help="asgi3: rkh_site.asgi as deployed (HTTP + WebSocket); wsgi: rkh_site.wsgi in "
        "uvicorn's thread pool (persistent database connections)",
    )
    args = parser.parse_args()

    database_url = bench_database_url()
    env = server_env(database_url, args.interface)
    ensure_database(database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    os.environ.update(env)
    import django

    django.setup()
    seed(args.orders, args.images, args.reseed)
    key, refs, big = bench_key()

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; uvicorn --interface {args.interface} "
        f"--workers {args.workers}; load average before: {os.getloadavg()[0]:.1f}"
    )
    print("\nSQL queries per request (API key auth, as Admin):")
    print("endpoint        page_size=10  page_size=100")
    for name, counts in query_counts(key, big[0]).items():
        print(f"{name:15s} {counts[10]:12d} {counts[100]:14d}")

    from django.db import connections

    connections.close_all()
    process, base = start_server(env, args.workers, args.interface)
    try:
        asyncio.run(wait_ready(base, key))
        asyncio.run(load_all(args, base, key, refs, big))
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    print(__import__("common").load_average("end"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
