"""Where one API request's time goes: in-process, no server, against bench/api.py's database.

Not a test. Runs each hot endpoint N times through Django's test client (production settings,
the throttle on, an Admin's API key) and prints CPU ms per request (``time.process_time``, less
disturbed by a busy shared machine than wall time) and wall ms; ``--profile`` adds a cProfile of
one endpoint, sorted by cumulative time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rkh REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/api_profile.py --n 200 [--profile "order list"]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api import API, bench_database_url, bench_key, server_env  # noqa: E402
from common import load_average  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--profile", default="", help="an endpoint to cProfile")
    parser.add_argument("--sort", default="cumulative", help="cumulative or tottime")
    args = parser.parse_args()
    os.environ.update(server_env(bench_database_url()))
    import django

    django.setup()
    from django.test import Client

    key, refs, big = bench_key()
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    rng = random.Random(1)  # noqa: S311
    paths = {
        "order list": lambda: f"{API}/orders",
        "order detail": lambda: f"{API}/orders/{rng.choice(refs)}",
        "image list": lambda: f"{API}/orders/{rng.choice(big)}/images",
        "profile": lambda: f"{API}/users/profile",
    }
    print(load_average("start"))
    print("endpoint       cpu ms/req  wall ms/req")
    for name, path in paths.items():
        for _ in range(20):
            assert client.get(path()).status_code == 200
        profiler = cProfile.Profile() if name == args.profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for _ in range(args.n):
            client.get(path())
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"{name:13s} {cpu * 1000 / args.n:11.2f} {wall * 1000 / args.n:12.2f}")
        if profiler:
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(45)
    print(load_average("end"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
