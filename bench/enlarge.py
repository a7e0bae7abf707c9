"""Benchmark: ``ai_processing.upscale.enlarge`` taking a generative edit to 24 MP.

Not a test: run on demand, prints figures (see docs/benchmarks.md, "Enlarging generative
edits").

    .venv/bin/python bench/enlarge.py            # 3 runs per case
    .venv/bin/python bench/enlarge.py --runs 5

The Runware simulator runs in its own process (``python -m ai_processing.simulator``), so
its work is not counted in the measuring process's memory. Each case runs in a fresh child
process (its peak RSS is the case's own), on an edit-sized JPEG made from a licensed test
photo:

- ``1K via imageUpscale``: a ``google:4@1`` answer (1248x832) → 6000x4000: one x4 Runware
  step, then the final Lanczos resize and crop;
- ``4K, resize only``: a ``google:4@2`` 4K answer (5096x3392) → 6000x4000 (1.18x: no call);
- ``1K, Runware down``: the same 1K answer with Runware unreachable: the local provider's
  x4 Lanczos, then the final resize;
- ``bare Lanczos``: ``pyvips`` resize of the 1K answer straight to 6000x4000 and a JPEG save,
  the cheapest enlargement there is (the ratio's denominator).

Prints milliseconds (median) and peak RSS per case, and each case's ratio to the bare resize.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import load_average  # noqa: E402

PHOTO = ROOT / "tests" / "data" / "photos" / "chelsea.png"
TARGET = (6000, 4000)


def edit_jpeg(size: tuple[int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.open(PHOTO).convert("RGB").resize(size, Image.Resampling.LANCZOS).save(
        buf, "JPEG", quality=95
    )
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_case(case: str, url: str, queue: multiprocessing.Queue) -> None:
    """One case in this (child) process: (milliseconds, peak RSS in MB, what was done)."""
    import pyvips

    from ai_processing.providers.chain import ProviderChain
    from ai_processing.providers.local import LocalProvider
    from ai_processing.providers.runware import RunwareProvider
    from ai_processing.upscale import enlarge

    data = edit_jpeg((5096, 3392) if case.startswith("4K") else (1248, 832))
    started = time.perf_counter()
    if case == "bare Lanczos":
        image = pyvips.Image.new_from_buffer(data, "")
        scale = max(TARGET[0] / image.width, TARGET[1] / image.height)
        out = image.resize(scale, kernel="lanczos3").crop(0, 0, *TARGET)
        out.jpegsave_buffer(Q=95, keep="none", optimize_coding=True)
        done = "resize"
    else:
        target_url = url if case != "1K, Runware down" else f"ws://127.0.0.1:{free_port()}/v1"
        runware = RunwareProvider(url=target_url, api_key="bench", connect_attempts=1)
        outcome = enlarge(data, *TARGET, chain=ProviderChain([runware, LocalProvider()]))
        done = f"{outcome.method}; steps {[s['factor'] for s in outcome.steps]}"
    elapsed = (time.perf_counter() - started) * 1000
    queue.put((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, done))


def measure(case: str, url: str) -> tuple[float, float, str]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=run_case, args=(case, url, queue))
    child.start()
    result = queue.get(timeout=600)
    child.join()
    return result


def main() -> None:
    print(load_average("start"), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    sim = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "ai_processing.simulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        url = f"ws://127.0.0.1:{port}/v1"
        cases = ["bare Lanczos", "1K via imageUpscale", "4K, resize only", "1K, Runware down"]
        figures: dict[str, tuple[float, float, str]] = {}
        for case in cases:
            runs = [measure(case, url) for _ in range(args.runs)]
            figures[case] = (
                statistics.median(r[0] for r in runs),
                max(r[1] for r in runs),
                runs[-1][2],
            )
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"target {TARGET[0]}x{TARGET[1]}, {args.runs} runs per case (median ms, peak RSS)")
    bare = figures["bare Lanczos"][0]
    for case, (ms, rss, done) in figures.items():
        print(f"{case:22s} {ms:8.0f} ms  {rss:6.0f} MB  x{ms / bare:5.2f}  {done}")
    print(load_average("end"), flush=True)


if __name__ == "__main__":
    main()
