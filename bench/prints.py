"""Benchmark: rendering print renditions (``orders.prints``) against a bare decode of the file.

Not a test: run on demand, prints figures (see docs/benchmarks.md, "Print renditions").

    .venv/bin/python bench/prints.py            # 5 files of 24 MP

It makes N camera-size JPEGs (6000 x 4000, noise like a sensor's) and, each in a fresh child
process (so each peak resident memory belongs to that work alone), times

- a bare decode: libvips reading every pixel of the file (``avg()``, sequential), and
- the 8x10 rendition ``print_renditions`` sends: open, crop the largest 5:4 rectangle
  (5000 x 4000), sRGB, JPEG quality 95 with its DPI in JFIF and EXIF;

and prints milliseconds per file, their ratio and each one's peak RSS (the Django process
itself is about 120 MB of it).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import load_average  # noqa: E402


def _child(mode: str, path: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rkh_site.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
    import django

    django.setup()
    import pyvips
    from django.core.files.storage import FileSystemStorage

    from orders import crops, prints

    class Stored:  # what a FileField gives prints: a storage and a name
        storage = FileSystemStorage(location=str(Path(path).parent))
        name = Path(path).name

    start = time.perf_counter()
    if mode == "decode":
        pyvips.Image.new_from_file(path, access="sequential").avg()
    else:
        picture = pyvips.Image.new_from_file(path)
        rect, _ = crops.place(picture.width, picture.height, 10 / 8)
        pixels = crops.to_pixels(rect, picture.width, picture.height, 10 / 8)
        dpi = crops.effective_dpi(pixels.width, pixels.height, 10, 8)
        prints._render_vips(Stored, pixels, dpi)
    elapsed = time.perf_counter() - start
    print(f"{elapsed * 1000:.1f} {_peak_rss_mb():.0f}")


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ``ru_maxrss``, not inherited from the
    parent that forked it, which made the photos)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(mode: str, path: Path) -> tuple[float, float]:
    out = subprocess.run(  # noqa: S603 - this script itself, with its own arguments
        [sys.executable, __file__, "--child", mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def main() -> int:
    print(load_average("start"), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    from common import make_photos

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, data in enumerate(make_photos(args.n, 16, (6000, 4000), noise=18, quality=90)):
            path = Path(folder) / f"photo_{i}.jpg"
            path.write_bytes(data)
            paths.append(path)
        decode = [_run("decode", p) for p in paths]
        render = [_run("render", p) for p in paths]
    d_ms = statistics.median(t for t, _ in decode)
    r_ms = statistics.median(t for t, _ in render)
    print(f"{args.n} files of 6000x4000; medians:")
    print(f"  bare decode         {d_ms:8.0f} ms   peak RSS {max(m for _, m in decode):.0f} MB")
    print(f"  8x10 rendition      {r_ms:8.0f} ms   peak RSS {max(m for _, m in render):.0f} MB")
    print(f"  rendition / decode  {r_ms / d_ms:8.2f}")
    print(load_average("end"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
