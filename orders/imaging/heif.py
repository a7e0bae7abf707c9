"""HEIC and HEIF through pillow-heif, handed to libvips as pixels.

The libvips in the ``pyvips[binary]`` wheel is built without an HEVC decoder
(patents), so it reads HEIC headers but fails on the pixels. pillow-heif
bundles libheif with libde265, so it opens the container and decodes; the
pixels then go to libvips for the same renditions as every other format.
libheif applies the container's rotation and mirror boxes while decoding, so
the size it reports is already upright and the EXIF orientation must not be
applied again (the HEIF specification says readers ignore it).
"""

from __future__ import annotations

from pathlib import Path

import pillow_heif
import pyvips

from .colour import profile_name
from .errors import ImageRejected, decode_failure
from .header import Header
from .sniff import Sniffed


def read_heif_header(path: Path, sniffed: Sniffed) -> Header:
    """Size, bit depth and EXIF of the primary picture, without decoding it."""
    heif = _open(path, sniffed)
    width, height = heif.size
    info = heif.info
    return Header(
        width=width,
        height=height,
        orientation=1,  # already applied by libheif
        exif_blob=info.get("exif") or None,
        bands=len(heif.mode) if heif.mode in ("L", "LA", "RGB", "RGBA") else 3,
        bits=int(info.get("bit_depth") or 8),
        interpretation="b-w" if heif.mode.startswith("L") else "srgb",
        icc_profile=profile_name(info["icc_profile"])
        if info.get("icc_profile") and info.get("icc_profile_type") == "prof"
        else None,
    )


def decode_heif(path: Path, sniffed: Sniffed) -> pyvips.Image:
    """The primary picture as an 8-bit libvips image, ICC profile attached."""
    heif = _open(path, sniffed)
    try:
        data = heif.data  # the decode
    except (ValueError, RuntimeError) as exc:
        raise _rejected(exc, sniffed) from exc
    width, height = heif.size
    bands = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}.get(heif.mode)
    if bands is None:
        raise ImageRejected(
            f"This {sniffed.label} picture uses a pixel format we cannot read ({heif.mode}).",
            code="corrupt",
        )
    row = width * bands
    if heif.stride != row:  # rows padded for alignment: pack them
        view = memoryview(data)
        data = b"".join(view[y * heif.stride : y * heif.stride + row] for y in range(height))
    image = pyvips.Image.new_from_memory(data, width, height, bands, "uchar")
    image = image.copy(interpretation="b-w" if bands <= 2 else "srgb")
    icc = heif.info.get("icc_profile")
    if icc and heif.info.get("icc_profile_type") == "prof":
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
    return image


def _open(path: Path, sniffed: Sniffed) -> pillow_heif.HeifFile:
    try:
        # convert_hdr_to_8bit: 10- and 12-bit HEIC become 8-bit here, scaled, not clipped.
        return pillow_heif.open_heif(path, convert_hdr_to_8bit=True)
    except (ValueError, RuntimeError, EOFError) as exc:
        raise _rejected(exc, sniffed) from exc


def _rejected(exc: Exception, sniffed: Sniffed) -> ImageRejected:
    detail = " ".join(str(exc).split())
    if "security limit" in detail.lower():
        return ImageRejected(
            "The image is too large: its declared size is over the decoder's safety limit.",
            code="too_many_pixels",
            detail=detail,
        )
    return decode_failure(sniffed.label, detail)
