"""Benchmark: a model's small tonal edit carried onto a 24 MP original (ai_processing.fullres).

Not a test: run on demand, prints figures (see docs/benchmarks.md, "Full resolution").

    .venv/bin/python bench/fullres.py            # 5 photos
    .venv/bin/python bench/fullres.py --n 5 --keep /tmp/bench-photos   # reuse ingest's photos

The photos are ingest's benchmark photos (bench/ingest.py: the licensed test photographs
enlarged to 6000 x 4000, sensor-like noise, JPEG q90, camera EXIF). For each:

- the reference: a known tonal edit (per-channel gamma and gains for the white balance, a
  contrast curve, a vignette) applied to the decoded original at full resolution;
- the model's answer: the reference downscaled (Lanczos) to Nano Banana's 1248 x 832, JPEG
  q95, which is all the fit sees besides the original;
- ``fullres.plan`` (align, fit, judge) and ``fullres.render`` (the transform applied to the
  original, streamed, encoded as JPEG q95) in a child process of their own, timed against,
  in another child and on the same files alternately, what ingest does to decode the file
  (``orders.imaging.process``'s "renditions" stage, a shrink-on-load decode) and a plain
  full-resolution decode (``pyvips`` ``avg``, the floor of anything that reads every pixel);
- faithfulness: PSNR of the rendered JPEG against the reference, and the high-frequency
  energy (mean squared luminance gradient) of the result over the original's and over the
  reference's.

Targets (issue 16): render at most 1.5 x ingest's decode, peak RSS under 600 MB per worker,
PSNR >= 38 dB, high-frequency energy >= 0.95 of the original's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import pyvips  # noqa: E402

ANSWER_SIZE = (1248, 832)
QUALITY = 95
STRIP = 400  # rows at a time when the parent builds references and compares (bounded memory)


# --- the reference edit -------------------------------------------------------------------


def tonal_edit(strip: np.ndarray, top: int, height: int) -> np.ndarray:
    """Gamma and gains per channel (white balance), contrast, and a vignette; 0-255 uint8."""
    x = strip.astype(np.float32) / 255
    x = x ** np.array([0.9, 1.0, 1.1], np.float32) * np.array([1.05, 1.0, 0.92], np.float32)
    x = 0.5 + (x - 0.5) * 1.15
    width = strip.shape[1]
    yy = (np.arange(top, top + strip.shape[0], dtype=np.float32)[:, None] / height - 0.5) ** 2
    xx = (np.arange(width, dtype=np.float32)[None, :] / width - 0.5) ** 2
    x = x * (1 - 0.35 * (xx + yy))[..., None]
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def strips(image: pyvips.Image):
    """(top, rows) of ``image`` as uint8 arrays, STRIP rows at a time (one decode)."""
    for top in range(0, image.height, STRIP):
        rows = min(STRIP, image.height - top)
        region = image.crop(0, top, image.width, rows)
        yield (
            top,
            np.ndarray(
                buffer=region.write_to_memory(),
                dtype=np.uint8,
                shape=(rows, image.width, image.bands),
            ),
        )


def make_reference(photo: Path, folder: Path) -> tuple[Path, Path]:
    """The full-size reference (raw uint8 file) and the model's answer (JPEG) for ``photo``."""
    from ai_processing import fullres

    image = fullres.open_upright(fullres.Source(path=photo)).copy_memory()
    reference = folder / f"{photo.stem}.reference.u8"
    with reference.open("wb") as out:
        for top, rows in strips(image):
            out.write(tonal_edit(rows, top, image.height).tobytes())
    full = pyvips.Image.new_from_memory(
        reference.read_bytes(), image.width, image.height, 3, "uchar"
    )
    scale = ANSWER_SIZE[0] / image.width
    small = full.resize(scale, vscale=ANSWER_SIZE[1] / image.height, kernel="lanczos3")
    answer = folder / f"{photo.stem}.answer.jpg"
    answer.write_bytes(small.jpegsave_buffer(Q=95))
    return reference, answer


# --- measured in child processes ------------------------------------------------------------


def run_fullres(photo: str, answer: str, out: str) -> tuple[float, float]:
    """Plan and render one photo; returns (plan ms, render ms); writes the JPEG to ``out``."""
    from ai_processing import fullres

    source = fullres.Source(path=Path(photo))
    started = time.perf_counter()
    plan = fullres.plan(source, Path(answer).read_bytes())
    planned = time.perf_counter()
    if plan.kind != "tonal":
        raise SystemExit(f"{photo}: judged {plan.kind}: {plan.describe()}")
    data = fullres.render(source, plan, quality=QUALITY)
    rendered = time.perf_counter()
    Path(out).write_bytes(data)
    return (planned - started) * 1000, (rendered - planned) * 1000


def ingest_decode_ms(photo: str) -> float:
    import ingest

    ingest.STAGES.clear()
    ingest.run_ingest(Path(photo))
    return ingest.STAGES["renditions"][0]


def full_decode_ms(photo: str) -> float:
    started = time.perf_counter()
    pyvips.Image.new_from_file(photo, access="sequential").avg()
    return (time.perf_counter() - started) * 1000


def timing_child(jobs: list[tuple[str, str, str]]) -> dict[str, list[float]]:
    """Times, alternating who goes first: ingest's decode, a full decode, plan, render."""
    from orders.imaging import vips

    vips.configure()
    run_fullres(*jobs[0])  # warm-up: libraries, first-call set-up
    ingest_decode_ms(jobs[0][0])
    times: dict[str, list[float]] = {"ingest": [], "decode": [], "plan": [], "render": []}
    for i, (photo, answer, out) in enumerate(jobs):
        order = ["baseline", "fullres"] if i % 2 == 0 else ["fullres", "baseline"]
        for what in order:
            if what == "baseline":
                times["ingest"].append(ingest_decode_ms(photo))
                times["decode"].append(full_decode_ms(photo))
            else:
                plan_ms, render_ms = run_fullres(photo, answer, out)
                times["plan"].append(plan_ms)
                times["render"].append(render_ms)
    return times


def memory_child(jobs: list[tuple[str, str, str]]) -> float:
    """Peak RSS (MB) of a process that only plans and renders, as an AI worker does."""
    from orders.imaging import vips

    vips.configure()
    for job in jobs:
        run_fullres(*job)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- compared in the parent ----------------------------------------------------------------


def compare(out: Path, reference: Path, original: Path) -> tuple[float, float, float]:
    """(PSNR vs reference, HF energy / original's, HF energy / reference's), strip by strip."""
    from ai_processing import fullres

    result = pyvips.Image.new_from_file(str(out), access="sequential")
    width, height = result.width, result.height
    base = fullres.open_upright(fullres.Source(path=original))
    squared = 0.0
    hf = {"result": 0.0, "original": 0.0, "reference": 0.0}
    with reference.open("rb") as ref_file:
        for (_top, got), (_t, orig) in zip(strips(result), strips(base), strict=True):
            rows = got.shape[0]
            ref = np.frombuffer(ref_file.read(rows * width * 3), np.uint8).reshape(rows, width, 3)
            squared += float(((got.astype(np.float64) - ref) ** 2).sum())
            for name, pixels in (("result", got), ("original", orig), ("reference", ref)):
                hf[name] += high_frequency(pixels)
    mse = squared / (width * height * 3)
    psnr = 10 * np.log10(255**2 / mse)
    return psnr, hf["result"] / hf["original"], hf["result"] / hf["reference"]


def high_frequency(pixels: np.ndarray) -> float:
    grey = pixels.astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    return float((np.diff(grey, axis=0) ** 2).sum() + (np.diff(grey, axis=1) ** 2).sum())


def main() -> int:
    print(__import__("common").load_average("start"), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5, help="number of photos (default 5)")
    parser.add_argument("--keep", type=Path, help="folder to make (or reuse) the photos in")
    args = parser.parse_args()

    import ingest

    from orders.imaging import vips

    vips.configure()
    with tempfile.TemporaryDirectory(prefix="bench-fullres-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        work = Path(scratch)
        photos = ingest.make_photos(args.n, folder)
        started = time.perf_counter()
        made = [make_reference(p, work) for p in photos]
        print(
            f"{len(photos)} photos {ingest.WIDTH}x{ingest.HEIGHT} (JPEG q90, sensor noise); "
            f"references and {ANSWER_SIZE[0]}x{ANSWER_SIZE[1]} answers made in "
            f"{time.perf_counter() - started:.1f}s"
        )
        jobs = [
            (str(p), str(answer), str(work / f"{p.stem}.out.jpg"))
            for p, (_ref, answer) in zip(photos, made, strict=True)
        ]
        spawn = multiprocessing.get_context("spawn")
        with spawn.Pool(1) as pool:
            times = pool.apply(timing_child, (jobs,))
        with spawn.Pool(1) as pool:
            peak = pool.apply(memory_child, (jobs,))
        scores = [
            compare(Path(out), ref, p)
            for p, (ref, _a), (_p, _a2, out) in zip(photos, made, jobs, strict=True)
        ]

    mean = statistics.mean
    libvips = ".".join(str(pyvips.version(i)) for i in range(3))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, libvips {libvips}, load {os.getloadavg()[0]:.1f}"
    )
    for name in ("ingest", "decode", "plan", "render"):
        label = {
            "ingest": "ingest's decode (renditions stage)",
            "decode": "full-resolution decode (avg)",
            "plan": "plan: align + fit + judge",
            "render": "render: decode, transform, JPEG q95",
        }[name]
        values = times[name]
        print(f"{label:38s} {mean(values):7.1f} ms (median {statistics.median(values):.1f})")
    render, ingest_ms, decode = mean(times["render"]), mean(times["ingest"]), mean(times["decode"])
    print(f"ratio render / ingest's decode:        {render / ingest_ms:5.2f}x (target <= 1.5x)")
    print(f"ratio render / full-resolution decode: {render / decode:5.2f}x")
    print(f"peak RSS (plan + render only):         {peak:5.0f} MB (target < 600 MB)")
    for photo, (psnr, hf_orig, hf_ref) in zip(photos, scores, strict=True):
        print(
            f"  {photo.name}: PSNR {psnr:5.2f} dB vs reference; HF energy "
            f"{hf_orig:4.2f} of the original's, {hf_ref:4.2f} of the reference's"
        )
    print(
        f"faithfulness: PSNR min {min(s[0] for s in scores):.2f} dB (target >= 38), "
        f"HF energy min {min(s[1] for s in scores):.2f} of the original's (target >= 0.95)"
    )
    print(__import__("common").load_average("end"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
