"""Benchmark: the project's ingest pass against libvips' bare thumbnail, on camera-size JPEGs.

Not a test: run on demand, prints figures (see docs/benchmarks.md).

    .venv/bin/python bench/ingest.py            # 20 images
    .venv/bin/python bench/ingest.py --n 50 --keep /tmp/bench-photos

It makes N realistic 24-megapixel JPEGs (6000 x 4000, quality 90, camera
EXIF): one of the licensed test photos, enlarged, shifted and cropped
differently each time, with sensor-like noise so the files are as big and as
costly to decode as a camera's. Then, on the same files, it times

- ``orders.imaging.process``: what ``ingest_image`` runs on every upload
  (SHA-256, type sniffing, header and pixel limit, EXIF, one verifying decode
  into preview and thumbnail, perceptual hashes), and
- ``pyvips.Image.thumbnail(path, 2048)`` written to a JPEG buffer: the
  fastest way libvips knows to make a preview, and nothing else;

and prints milliseconds per image for both, their ratio, and the process's
peak resident memory. The files are made in child processes, so the peak
belongs to the measured work alone.
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
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyvips  # noqa: E402
from common import load_average  # noqa: E402

from orders.imaging import process  # noqa: E402
from orders.imaging import vips as vips_setup  # noqa: E402

PHOTOS = ROOT / "tests" / "data" / "photos"
SOURCES = ["coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg", "camera.png"]
WIDTH, HEIGHT = 6000, 4000
# The project's defaults (rkh_site/settings.py, section "intake").
PREVIEW_SIZE, THUMBNAIL_SIZE, MAX_PIXELS = 2048, 400, 120_000_000


def camera_exif(index: int) -> bytes:
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "Canon EOS R6", 1
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = IFDRational(1, 250)
    sub[0x829D] = IFDRational(28, 10)
    sub[0x8827] = 800
    sub[0x9003] = f"2024:06:15 14:{index % 60:02d}:00"
    sub[0x920A] = IFDRational(50, 1)
    sub[0xA434] = "RF24-70mm F2.8 L IS USM"
    return exif.tobytes()


def make_photo(index: int, folder: str) -> str:
    """One 6000 x 4000 JPEG from a real photo: enlarged, cropped, with sensor-like noise."""
    source = pyvips.Image.new_from_file(str(PHOTOS / SOURCES[index % len(SOURCES)]))
    if source.bands == 1:
        source = source.colourspace("srgb")
    scale = max(WIDTH / source.width, HEIGHT / source.height) * (1.05 + 0.01 * (index % 7))
    big = source.resize(scale, kernel="lanczos3")
    left, top = (big.width - WIDTH) * (index % 3) // 2, (big.height - HEIGHT) * (index % 2)
    big = big.crop(left, top, WIDTH, HEIGHT)
    noise = pyvips.Image.gaussnoise(WIDTH, HEIGHT, sigma=6, mean=0)
    photo = (big + noise.bandjoin([noise, noise])).cast("uchar").copy()
    photo.set_type(pyvips.GValue.blob_type, "exif-data", camera_exif(index))
    path = Path(folder) / f"IMG_{index:04d}.jpg"
    photo.jpegsave(str(path), Q=90)
    return str(path)


def make_photos(n: int, folder: Path) -> list[Path]:
    existing = sorted(folder.glob("IMG_*.jpg"))[:n]
    if len(existing) == n:
        return existing
    # spawn, not fork: a forked libvips may inherit locks held by its threads.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=spawn) as pool:
        return [Path(p) for p in pool.map(make_photo, range(n), [str(folder)] * n)]


STAGES: dict[str, list[float]] = {}


def run_ingest(path: Path) -> None:
    result = process(
        path,
        max_pixels=MAX_PIXELS,
        strip_gps=True,
        preview_size=PREVIEW_SIZE,
        thumbnail_size=THUMBNAIL_SIZE,
    )
    for stage, ms in result.timings_ms.items():
        STAGES.setdefault(stage, []).append(ms)


def run_thumbnail(path: Path) -> None:
    pyvips.Image.thumbnail(str(path), PREVIEW_SIZE).jpegsave_buffer()


def timed(function, path: Path) -> float:
    started = time.perf_counter()
    function(path)
    return (time.perf_counter() - started) * 1000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> int:
    print(load_average("start"), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="number of photos (default 20)")
    parser.add_argument("--keep", type=Path, help="folder to make (or reuse) the photos in")
    args = parser.parse_args()

    vips_setup.configure()  # the same libvips settings for both contenders
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        paths = make_photos(args.n, folder)
        made_in = time.perf_counter() - started
        size_mb = statistics.mean(p.stat().st_size for p in paths) / 1e6
        print(
            f"{len(paths)} photos {WIDTH}x{HEIGHT}, JPEG q90, mean {size_mb:.1f} MB, "
            f"made in {made_in:.1f}s"
        )
        # Warm up both (library loading, first-call set-up), untimed.
        run_ingest(paths[0])
        run_thumbnail(paths[0])
        rss_before = peak_rss_mb()
        STAGES.clear()

        ingest_ms: list[float] = []
        thumbnail_ms: list[float] = []
        for i, path in enumerate(paths):
            # Alternate who goes first, so neither always finds the file in a warmer cache.
            if i % 2:
                thumbnail_ms.append(timed(run_thumbnail, path))
                ingest_ms.append(timed(run_ingest, path))
            else:
                ingest_ms.append(timed(run_ingest, path))
                thumbnail_ms.append(timed(run_thumbnail, path))

    ingest, thumb = statistics.mean(ingest_ms), statistics.mean(thumbnail_ms)
    libvips = ".".join(str(pyvips.version(i)) for i in range(3))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, libvips {libvips}"
    )
    print(
        f"ingest (orders.imaging.process): {ingest:7.1f} ms/image "
        f"(median {statistics.median(ingest_ms):.1f})"
    )
    print(
        f"pyvips thumbnail 2048 -> JPEG:   {thumb:7.1f} ms/image "
        f"(median {statistics.median(thumbnail_ms):.1f})"
    )
    stages = ", ".join(f"{k} {statistics.mean(v):.1f}" for k, v in STAGES.items())
    print(f"  ingest stages, ms/image: {stages}")
    print(f"ratio ingest / thumbnail:        {ingest / thumb:7.2f}x (target <= 1.5x)")
    print(f"peak RSS: {peak_rss_mb():.0f} MB (after warm-up {rss_before:.0f} MB; target < 400 MB)")
    print(load_average("end"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
