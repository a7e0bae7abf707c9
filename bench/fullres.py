"""Benchmark: a model's small tonal edit carried onto a 24 MP original (ai_processing.fullres).

Not a test: run on demand, prints figures (see docs/benchmarks.md, "Full resolution").

    .venv/bin/python bench/fullres.py            # 5 photos
    .venv/bin/python bench/fullres.py --n 5 --keep /tmp/bench-photos   # reuse ingest's photos

The photos are ingest's benchmark photos (bench/ingest.py: the licensed test photographs
enlarged to 6000 x 4000, sensor-like noise, JPEG q90, camera EXIF). For each:

- the reference: a known tonal edit (per-channel gamma and gains for the white balance, a
  contrast curve, a vignette) applied to the decoded original at full resolution;
- with ``--edit colour`` the reference also has more saturation (a cross-channel change: the
  fit needs its colour matrix);
- the model's answer: the reference downscaled (Lanczos) to Nano Banana's 1248 x 832, JPEG
  q95, which is all the fit sees besides the original;
- ``fullres.plan`` (align, fit, judge) and ``fullres.render`` (the transform applied to the
  original, streamed, encoded as JPEG at ``--quality``, 98 by default) in a child process
  of their own, timed against, in another child and on the same files alternately, what
  ingest does to decode the file (``orders.imaging.process``'s "renditions" stage, a
  shrink-on-load decode) and a plain full-resolution decode (``pyvips`` ``avg``, the floor
  of anything that reads every pixel);
- faithfulness: PSNR of the rendered JPEG against the reference, and the high-frequency
  energy (mean squared luminance gradient) of the result over the original's and over the
  reference's, and the reference's detail kept (the result's gradients projected on the
  reference's: added noise does not count).

Targets (issue 16): render at most 1.5 x ingest's decode, peak RSS under 600 MB per worker,
PSNR >= 38 dB, high-frequency energy >= 0.95 of the original's (and >= 0.99 of the
reference's).
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
QUALITY = 98  # the default of the setting FULLRES_JPEG_QUALITY
STRIP = 400  # rows at a time when the parent builds references and compares (bounded memory)


# --- the reference edit -------------------------------------------------------------------


#: The colour edit's saturation: colours moved away from their luminance by this factor (a
#: cross-channel change, which needs the fit's colour matrix).
SATURATION = 1.25
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def tonal_edit(strip: np.ndarray, top: int, height: int, *, colour: bool = False) -> np.ndarray:
    """Gamma and gains per channel (white balance), contrast, and a vignette; with ``colour``
    also more saturation (before the contrast). 0-255 uint8."""
    x = strip.astype(np.float32) / 255
    x = x ** np.array([0.9, 1.0, 1.1], np.float32) * np.array([1.05, 1.0, 0.92], np.float32)
    if colour:
        luma = (x @ LUMA)[..., None]
        x = luma + SATURATION * (x - luma)
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


def make_reference(photo: Path, folder: Path, *, colour: bool = False) -> tuple[Path, Path]:
    """The full-size reference (raw uint8 file) and the model's answer (JPEG) for ``photo``."""
    from ai_processing import fullres

    image = fullres.open_upright(fullres.Source(path=photo)).copy_memory()
    reference = folder / f"{photo.stem}.reference.u8"
    with reference.open("wb") as out:
        for top, rows in strips(image):
            out.write(tonal_edit(rows, top, image.height, colour=colour).tobytes())
    full = pyvips.Image.new_from_memory(
        reference.read_bytes(), image.width, image.height, 3, "uchar"
    )
    scale = ANSWER_SIZE[0] / image.width
    small = full.resize(scale, vscale=ANSWER_SIZE[1] / image.height, kernel="lanczos3")
    answer = folder / f"{photo.stem}.answer.jpg"
    answer.write_bytes(small.jpegsave_buffer(Q=95))
    return reference, answer


# --- measured in child processes ------------------------------------------------------------


def run_fullres(
    photo: str, answer: str, out: str, quality: int
) -> tuple[float, float, float, dict]:
    """Plan and render one photo; returns (plan ms, render ms, render CPU ms of all threads,
    the transform's stages); writes the JPEG to ``out``."""
    from ai_processing import fullres

    source = fullres.Source(path=Path(photo))
    started = time.perf_counter()
    plan = fullres.plan(source, Path(answer).read_bytes())
    planned = time.perf_counter()
    if plan.kind != "tonal":
        raise SystemExit(f"{photo}: judged {plan.kind}: {plan.describe()}")
    cpu = time.process_time()
    data = fullres.render(source, plan, quality=quality)
    cpu = time.process_time() - cpu
    rendered = time.perf_counter()
    Path(out).write_bytes(data)
    assert plan.transform is not None
    stages = {**plan.transform.describe(), "fast_path": getattr(plan.transform, "applied_as", "?")}
    return (planned - started) * 1000, (rendered - planned) * 1000, cpu * 1000, stages


def ingest_decode_ms(photo: str) -> tuple[float, float]:
    """(ingest's decode: the renditions stage, wall ms; ingest's whole pass, CPU ms)."""
    import ingest

    ingest.STAGES.clear()
    cpu = time.process_time()
    ingest.run_ingest(Path(photo))
    return ingest.STAGES["renditions"][0], (time.process_time() - cpu) * 1000


def full_decode_ms(photo: str) -> float:
    started = time.perf_counter()
    pyvips.Image.new_from_file(photo, access="sequential").avg()
    return (time.perf_counter() - started) * 1000


def timing_child(
    jobs: list[tuple[str, str, str, int]],
) -> tuple[dict[str, list[float]], list[dict]]:
    """Times, alternating who goes first: ingest's decode, a full decode, plan, render; and
    each photo's transform stages."""
    from orders.imaging import vips

    vips.configure()
    run_fullres(*jobs[0])  # warm-up: libraries, first-call set-up
    ingest_decode_ms(jobs[0][0])
    names = ("ingest", "ingest_cpu", "decode", "plan", "render", "render_cpu")
    times: dict[str, list[float]] = {name: [] for name in names}
    stages = []
    for i, (photo, answer, out, quality) in enumerate(jobs):
        order = ["baseline", "fullres"] if i % 2 == 0 else ["fullres", "baseline"]
        for what in order:
            if what == "baseline":
                wall, cpu = ingest_decode_ms(photo)
                times["ingest"].append(wall)
                times["ingest_cpu"].append(cpu)
                times["decode"].append(full_decode_ms(photo))
            else:
                plan_ms, render_ms, render_cpu, described = run_fullres(photo, answer, out, quality)
                times["plan"].append(plan_ms)
                times["render"].append(render_ms)
                times["render_cpu"].append(render_cpu)
                stages.append(described)
    return times, stages


def memory_child(jobs: list[tuple[str, str, str, int]]) -> float:
    """Peak RSS (MB) of a process that only plans and renders, as an AI worker does."""
    from orders.imaging import vips

    vips.configure()
    for job in jobs:
        run_fullres(*job)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- compared in the parent ----------------------------------------------------------------


def compare(out: Path, reference: Path, original: Path) -> dict[str, float]:
    """PSNR vs the reference; the result's HF energy over the original's and over the
    reference's; and the reference's detail kept (the result's luminance gradients
    projected on the reference's, over the reference's own energy: unlike the energy
    ratio, noise the result adds does not count). Strip by strip."""
    from ai_processing import fullres

    result = pyvips.Image.new_from_file(str(out), access="sequential")
    width, height = result.width, result.height
    base = fullres.open_upright(fullres.Source(path=original))
    squared = 0.0
    hf = {"result": 0.0, "original": 0.0, "reference": 0.0, "kept": 0.0}
    with reference.open("rb") as ref_file:
        for (_top, got), (_t, orig) in zip(strips(result), strips(base), strict=True):
            rows = got.shape[0]
            ref = np.frombuffer(ref_file.read(rows * width * 3), np.uint8).reshape(rows, width, 3)
            squared += float(((got.astype(np.float64) - ref) ** 2).sum())
            gradients = {}
            for name, pixels in (("result", got), ("original", orig), ("reference", ref)):
                gradients[name] = luma_gradients(pixels)
                hf[name] += sum(float((g**2).sum()) for g in gradients[name])
            hf["kept"] += sum(
                float((a * b).sum())
                for a, b in zip(gradients["result"], gradients["reference"], strict=True)
            )
    mse = squared / (width * height * 3)
    return {
        "psnr": 10 * np.log10(255**2 / mse),
        "hf_original": hf["result"] / hf["original"],
        "hf_reference": hf["result"] / hf["reference"],
        "reference_original": hf["reference"] / hf["original"],
        "kept": hf["kept"] / hf["reference"],
    }


def luma_gradients(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertical and horizontal differences of the luminance (high-frequency energy: their
    mean square)."""
    grey = pixels.astype(np.float32) @ LUMA
    return np.diff(grey, axis=0), np.diff(grey, axis=1)


def main() -> int:
    print(__import__("common").load_average("start"), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5, help="number of photos (default 5)")
    parser.add_argument("--keep", type=Path, help="folder to make (or reuse) the photos in")
    parser.add_argument(
        "--edit",
        choices=("tone", "colour"),
        default="tone",
        help="the reference edit: tone (curves, white balance, contrast, vignette) or colour "
        f"(the same and saturation x{SATURATION}: needs the colour matrix)",
    )
    parser.add_argument(
        "--quality", type=int, default=QUALITY, help=f"JPEG quality (default {QUALITY})"
    )
    args = parser.parse_args()

    import ingest

    from orders.imaging import vips

    vips.configure()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-fullres-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        work = Path(scratch)
        photos = ingest.make_photos(args.n, folder)
        started = time.perf_counter()
        colour = args.edit == "colour"
        made = [make_reference(p, work, colour=colour) for p in photos]
        print(
            f"{len(photos)} photos {ingest.WIDTH}x{ingest.HEIGHT} (JPEG q90, sensor noise); "
            f"{args.edit} edit; references and {ANSWER_SIZE[0]}x{ANSWER_SIZE[1]} answers made in "
            f"{time.perf_counter() - started:.1f}s"
        )
        jobs = [
            (str(p), str(answer), str(work / f"{p.stem}.out.jpg"), args.quality)
            for p, (_ref, answer) in zip(photos, made, strict=True)
        ]
        spawn = multiprocessing.get_context("spawn")
        with spawn.Pool(1) as pool:
            times, stages = pool.apply(timing_child, (jobs,))
        with spawn.Pool(1) as pool:
            peak = pool.apply(memory_child, (jobs,))
        scores = [
            compare(Path(job[2]), ref, p)
            for p, (ref, _a), job in zip(photos, made, jobs, strict=True)
        ]

    mean = statistics.mean
    libvips = ".".join(str(pyvips.version(i)) for i in range(3))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, libvips {libvips}, load average "
        f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    for name in ("ingest", "ingest_cpu", "decode", "plan", "render", "render_cpu"):
        label = {
            "ingest": "ingest's decode (renditions stage)",
            "ingest_cpu": "ingest's whole pass, CPU (all threads)",
            "decode": "full-resolution decode (avg)",
            "plan": "plan: align + fit + judge",
            "render": f"render: decode, transform, JPEG q{args.quality}",
            "render_cpu": "render, CPU (all threads)",
        }[name]
        values = times[name]
        print(f"{label:40s} {mean(values):7.1f} ms (median {statistics.median(values):.1f})")
    render, ingest_ms, decode = mean(times["render"]), mean(times["ingest"]), mean(times["decode"])
    print(f"ratio render / ingest's decode:          {render / ingest_ms:5.2f}x (target <= 1.5x)")
    cpu_ratio = mean(times["render_cpu"]) / mean(times["ingest_cpu"])
    print(f"CPU ratio render / ingest's whole pass:  {cpu_ratio:5.2f}x")
    print(f"ratio render / full-resolution decode:   {render / decode:5.2f}x")
    print(f"peak RSS (plan + render only):           {peak:5.0f} MB (target < 600 MB)")
    for photo, got, described in zip(photos, scores, stages, strict=True):
        used = [k for k in ("colour_matrix", "local_fields") if described[k]]
        print(
            f"  {photo.name}: PSNR {got['psnr']:5.2f} dB vs reference; HF energy "
            f"{got['hf_original']:4.2f} of the original's, {got['hf_reference']:4.2f} of the "
            f"reference's (the reference: {got['reference_original']:4.2f} of the original's); "
            f"detail kept {got['kept']:4.2f}; curves{''.join(' + ' + u for u in used)}, "
            f"{described['fast_path']}"
        )
    print(
        f"faithfulness: PSNR min {min(s['psnr'] for s in scores):.2f} dB (target >= 38), "
        f"HF energy min {min(s['hf_original'] for s in scores):.2f} of the original's "
        f"(target >= 0.95), {min(s['hf_reference'] for s in scores):.2f} of the reference's"
    )
    print(__import__("common").load_average("end"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
