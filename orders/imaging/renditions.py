"""Preview and thumbnail: upright, sRGB, 8-bit JPEGs, never larger than the original.

This is also where the file is decoded, and so where it is verified: the
preview is made by ``pyvips.Image.thumbnail`` with ``fail_on="error"``, which
reads every byte of picture data (a JPEG shrunk on load still entropy-decodes
all of it), so a truncated or damaged file fails here. Shrink-on-load lets a
24-megapixel JPEG decode straight at half its size, and decoding, resizing
and JPEG encoding run as one stream. The thumbnail is then made from the
preview, not from the file again. The original is decoded once, and the whole
costs little more than making the preview alone (see docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyvips

from .colour import to_srgb_8bit
from .errors import decode_failure
from .heif import decode_heif
from .sniff import HEIF_LOADER, Sniffed

PREVIEW_QUALITY = 85
THUMBNAIL_QUALITY = 80


@dataclass(frozen=True)
class Renditions:
    """JPEG bytes of both renditions, their sizes, and the thumbnail's pixels (for hashing)."""

    preview: bytes
    preview_size: tuple[int, int]
    thumbnail: bytes
    thumbnail_size: tuple[int, int]
    thumbnail_image: pyvips.Image


def make_renditions(
    path: Path,
    sniffed: Sniffed,
    *,
    preview_size: int,
    thumbnail_size: int,
    colour_transform: bool,
) -> Renditions:
    """Decode ``path`` once into a preview (long side ``preview_size``) and a thumbnail.

    ``colour_transform``: the source is CMYK or carries a non-sRGB profile, so
    the pixels go through ICC to sRGB. Raises ``ImageRejected`` when the
    picture data is truncated or damaged.
    """
    options = {"height": preview_size, "size": "down"}
    if colour_transform:
        options |= {"export_profile": "srgb", "intent": "perceptual"}
    try:
        if sniffed.loader == HEIF_LOADER:
            image = decode_heif(path, sniffed).thumbnail_image(preview_size, **options)
        else:
            image = pyvips.Image.thumbnail(str(path), preview_size, fail_on="error", **options)
        image = to_srgb_8bit(image)
        # Decoding (and so verifying), shrinking and encoding run as one
        # stream on every core: the full-size picture is never in memory.
        # Without Huffman optimisation: it took 5 % of ingest's time (a second pass over
        # the coefficients) to make the preview 4 % smaller (docs/benchmarks.md, "Ingest").
        preview_jpeg = _jpeg(image, PREVIEW_QUALITY, optimize=False)
        preview_size_px = (image.width, image.height)
        # The thumbnail comes from the preview, shrunk on load (a quarter-size
        # JPEG decode), not from the original again.
        thumbnail = pyvips.Image.thumbnail_buffer(
            preview_jpeg, thumbnail_size, height=thumbnail_size, size="down"
        ).copy_memory()
        thumbnail_jpeg = _jpeg(thumbnail, THUMBNAIL_QUALITY, optimize=True)
    except pyvips.Error as exc:
        raise decode_failure(sniffed.label, f"{exc.message} {exc.detail}") from exc
    return Renditions(
        preview=preview_jpeg,
        preview_size=preview_size_px,
        thumbnail=thumbnail_jpeg,
        thumbnail_size=(thumbnail.width, thumbnail.height),
        thumbnail_image=thumbnail,
    )


def _jpeg(image: pyvips.Image, quality: int, *, optimize: bool) -> bytes:
    # keep="none": renditions never carry the original's metadata (GPS included).
    return image.jpegsave_buffer(Q=quality, keep="none", optimize_coding=optimize)
