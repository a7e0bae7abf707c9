"""What a file says about itself before a pixel is decoded, and the limits checked there.

A 100 kB PNG can declare 100 000 x 100 000 pixels and ask for 30 GB when
decoded: the decompression-bomb guard must refuse it from the header alone.
libvips opens files lazily, so reading width, height, orientation and the EXIF
block costs a few hundred bytes of I/O whatever the file's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyvips

from .colour import profile_name
from .errors import ImageRejected
from .sniff import Sniffed


@dataclass(frozen=True)
class Header:
    """Stored width and height (before orientation), EXIF orientation and raw EXIF block."""

    width: int
    height: int
    orientation: int
    exif_blob: bytes | None
    bands: int
    bits: int
    interpretation: str
    #: The embedded ICC profile's name; None without one, "" when unreadable.
    icc_profile: str | None

    @property
    def upright_size(self) -> tuple[int, int]:
        """Width and height as the picture is meant to be seen: orientations 5-8 turn it."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height


def read_header(path: Path, sniffed: Sniffed) -> Header:
    """Open ``path`` lazily with the loader its signature named and read the header.

    Raises ``ImageRejected`` when libvips cannot parse the header or would pick
    another loader than the signature said (a file that is two things at once).
    """
    try:
        image = pyvips.Image.new_from_file(str(path), access="sequential")
        loader = image.get("vips-loader")
    except pyvips.Error as exc:
        raise ImageRejected(
            f"The file is damaged: it starts like a {sniffed.label} image but cannot be read "
            "as one.",
            code="corrupt",
            detail=str(exc).strip(),
        ) from exc
    if not loader.startswith(sniffed.loader):
        raise ImageRejected(
            f"The file is damaged: it starts like a {sniffed.label} image but is not one.",
            code="corrupt",
            detail=f"libvips chose {loader}",
        )
    fields = set(image.get_fields())
    orientation = image.get("orientation") if "orientation" in fields else 1
    return Header(
        width=image.width,
        height=image.height,
        orientation=orientation if 1 <= orientation <= 8 else 1,
        exif_blob=image.get("exif-data") if "exif-data" in fields else None,
        bands=image.bands,
        bits=_bits(image),
        interpretation=str(image.interpretation),
        icc_profile=profile_name(image.get("icc-profile-data"))
        if "icc-profile-data" in fields
        else None,
    )


def _bits(image: pyvips.Image) -> int:
    if "bits-per-sample" in image.get_fields():
        return int(image.get("bits-per-sample"))
    return {"uchar": 8, "char": 8, "ushort": 16, "short": 16}.get(str(image.format), 32)


def check_pixels(header: Header, max_pixels: int) -> None:
    """Refuse an image whose declared size is over ``max_pixels`` (the bomb guard)."""
    pixels = header.width * header.height
    if pixels > max_pixels:
        raise ImageRejected(
            f"The image is too large: {header.width:,} x {header.height:,} pixels "
            f"({_megapixels(pixels)} megapixels); the limit is {_megapixels(max_pixels)} "
            "megapixels.",
            code="too_many_pixels",
        )


def _megapixels(pixels: int) -> str:
    """``10,000``, ``1.5``, ``0.24``: enough digits to tell a size from the limit."""
    mp = pixels / 1_000_000
    if mp >= 10:
        return f"{mp:,.0f}"
    text = f"{mp:.1f}" if mp >= 1 else f"{mp:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
