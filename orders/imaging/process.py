"""One photo file in, every ingest fact out: the pure heart of ingest.

``process`` is what ``orders.intake.ingest_image`` runs on a stored original
and what ``bench/ingest.py`` times; it knows nothing of Django, orders or
storage. The order of the steps is the order of their cost: the cheap checks
that can refuse a file (signature, header, pixel limit) come before the one
expensive step (decoding, which also verifies), so a bad file costs little.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import vips
from .colour import needs_transform
from .errors import ChecksumMismatch, ImageRejected
from .exif import read_exif
from .header import Header, check_pixels, read_header
from .heif import read_heif_header
from .phash import PerceptualHash, perceptual_hash
from .renditions import Renditions, make_renditions
from .sniff import HEIF_LOADER, SNIFF_BYTES, Sniffed, sniff


@dataclass(frozen=True)
class Processed:
    """What ingest learned about one file, with its two renditions as JPEG bytes."""

    format: str
    mime_type: str
    file_size: int
    sha256: str
    width: int
    height: int
    exif: dict[str, Any]
    phash: PerceptualHash
    preview: bytes
    preview_size: tuple[int, int]
    thumbnail: bytes
    thumbnail_size: tuple[int, int]
    colour: dict[str, Any]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """The JSON-safe facts kept in ``Image.metadata`` (beside the model's own fields)."""
        return {
            "exif": self.exif,
            "format": self.format,
            "colour": self.colour,
            "phash_turned": list(self.phash.turned),
            "preview_size": list(self.preview_size),
            "thumbnail_size": list(self.thumbnail_size),
            "ingest_ms": round(sum(self.timings_ms.values()), 1),
        }


def process(
    path: Path,
    *,
    max_pixels: int,
    strip_gps: bool,
    preview_size: int,
    thumbnail_size: int,
    expected_sha256: str | None = None,
) -> Processed:
    """Check, verify, measure, describe and preview the image file at ``path``.

    Raises ``ImageRejected`` (with a reason for the uploader) for a file that
    is not an accepted photo, is over the pixel limit, or is damaged;
    ``ChecksumMismatch``, rather than any verdict, when ``expected_sha256`` is
    given and the bytes differ (a stored file changed since upload). Other
    exceptions are bugs or I/O failures, not verdicts on the file.
    """
    vips.configure()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round((now - clock) * 1000, 2)
        clock = now

    # The file is hashed on a thread of its own while the rest runs: the decode keeps about
    # one core busy, hashing needs the other for a few milliseconds (SHA-256 and reads let go
    # of the GIL). A checksum mismatch still wins over any verdict on the file's content.
    verdict: ImageRejected | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rkh-ingest-hash") as hasher:
        hashing = hasher.submit(_size_and_sha256, path)
        try:
            header, sniffed, exif, renditions, phash = _examine(
                path,
                max_pixels=max_pixels,
                strip_gps=strip_gps,
                preview_size=preview_size,
                thumbnail_size=thumbnail_size,
                lap=lap,
            )
        except ImageRejected as rejected:
            verdict = rejected
        size, sha256 = hashing.result()
    if expected_sha256 and sha256 != expected_sha256:
        raise ChecksumMismatch(sha256, expected_sha256) from verdict
    if verdict is not None:
        raise verdict
    lap("read")  # what was left of hashing once the rest was done
    width, height = header.upright_size
    return Processed(
        format=sniffed.format,
        mime_type=sniffed.mime_type,
        file_size=size,
        sha256=sha256,
        width=width,
        height=height,
        exif=exif,
        phash=phash,
        preview=renditions.preview,
        preview_size=renditions.preview_size,
        thumbnail=renditions.thumbnail,
        thumbnail_size=renditions.thumbnail_size,
        colour={
            "interpretation": header.interpretation,
            "bands": header.bands,
            "bits": header.bits,
            "icc_profile": header.icc_profile,
        },
        timings_ms=timings,
    )


def _examine(
    path: Path,
    *,
    max_pixels: int,
    strip_gps: bool,
    preview_size: int,
    thumbnail_size: int,
    lap: Callable[[str], None],
) -> tuple[Header, Sniffed, dict[str, Any], Renditions, PerceptualHash]:
    """Everything but the hash, cheapest refusal first; raises ``ImageRejected``."""
    with path.open("rb") as handle:
        sniffed = sniff(handle.read(SNIFF_BYTES))
    heif = sniffed.loader == HEIF_LOADER
    header = read_heif_header(path, sniffed) if heif else read_header(path, sniffed)
    check_pixels(header, max_pixels)
    exif = read_exif(
        header.exif_blob, path=path if sniffed.format == "tiff" else None, strip_gps=strip_gps
    )
    if heif:  # the container's own boxes turned the picture; its EXIF tag does not apply
        exif.pop("orientation", None)
    lap("header")
    renditions = make_renditions(
        path,
        sniffed,
        preview_size=preview_size,
        thumbnail_size=thumbnail_size,
        colour_transform=needs_transform(header.interpretation, header.icc_profile),
    )
    lap("renditions")
    phash = perceptual_hash(renditions.thumbnail_image)
    lap("phash")
    return header, sniffed, exif, renditions, phash


def _size_and_sha256(path: Path) -> tuple[int, str]:
    with path.open("rb") as handle:
        return os.fstat(handle.fileno()).st_size, hashlib.file_digest(handle, "sha256").hexdigest()
