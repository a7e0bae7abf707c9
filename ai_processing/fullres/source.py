"""The original as the model saw it: upright, 8-bit, three bands; full size or small.

The remote providers send the photo turned upright (EXIF orientation applied) and with its
pixel values as they are (no ICC transform: ``providers.remote.prepare_image``), so the
model's answer is in the same colour space as the original's own values. The transfer
therefore works on those values and keeps the original's ICC profile on the result. Only
sources that are not 8-bit RGB (CMYK, 16-bit, grey, alpha) are turned into 8-bit sRGB first,
through their profile when they have one, and then carry no profile (sRGB is assumed).

HEIC/HEIF goes through pillow-heif (``orders.imaging.heif``): the bundled libvips cannot
decode HEVC. No Django here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import pyvips

from orders.imaging.colour import to_srgb_8bit
from orders.imaging.heif import decode_heif, read_heif_header
from orders.imaging.sniff import HEIF_LOADER, sniff
from orders.imaging.vips import configure as configure_vips


@dataclass(frozen=True)
class Source:
    """Where the original is: a path (preferred: streamed) or its bytes."""

    path: Path | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if self.path is None and self.data is None:
            raise ValueError("Source needs a path or data")

    def head(self) -> bytes:
        if self.data is not None:
            return self.data[:4096]
        assert self.path is not None
        with self.path.open("rb") as fh:
            return fh.read(4096)


def open_upright(source: Source, *, shrink: int = 1) -> pyvips.Image:
    """The original, upright and 8-bit three-band, decoded lazily (streamed) where it can be.

    ``shrink`` (1, 2, 4 or 8) asks the JPEG/WebP loader to decode at a reduced scale (DCT
    scaling: much cheaper than decoding everything and resizing), for the small view.
    """
    configure_vips()
    sniffed = sniff(source.head())
    if sniffed.loader == HEIF_LOADER:
        if source.path is None:
            raise ValueError("HEIC originals are read from a path")
        image = decode_heif(source.path, sniffed)  # already upright
        return _eight_bit(image)
    options: dict[str, object] = {}
    if shrink > 1 and sniffed.format in ("jpeg", "webp"):
        options["shrink"] = shrink
    image = _load(source, "sequential", options)
    if _orientation(image) not in (0, 1):
        # Turning needs the pixels out of order: decode once into memory (72 MB at 24 MP).
        image = _load(source, "random", options).autorot()
    return _eight_bit(image)


def _load(source: Source, access: str, options: dict[str, object]) -> pyvips.Image:
    if source.path is not None:
        return pyvips.Image.new_from_file(str(source.path), access=access, **options)
    return pyvips.Image.new_from_buffer(source.data, "", access=access, **options)


def _orientation(image: pyvips.Image) -> int:
    try:
        return int(image.get("orientation")) if image.get_typeof("orientation") else 1
    except (pyvips.Error, ValueError):
        return 1


def _eight_bit(image: pyvips.Image) -> pyvips.Image:
    """8-bit RGB values as the model saw them; non-RGB sources through ICC to sRGB."""
    plain_rgb = (
        image.interpretation in ("srgb", "rgb") and image.format == "uchar" and image.bands == 3
    )
    if plain_rgb:
        return image
    if image.get_typeof("icc-profile-data") or image.interpretation == "cmyk":
        with contextlib.suppress(pyvips.Error):  # an unusable profile: the values as they are
            image = image.icc_transform("srgb", intent="perceptual")
    image = to_srgb_8bit(image)
    if image.get_typeof("icc-profile-data"):
        image = image.copy()
        image.remove("icc-profile-data")
    return image


def upright_size(source: Source) -> tuple[int, int]:
    """The original's upright pixel size, from its header (nothing is decoded)."""
    configure_vips()
    sniffed = sniff(source.head())
    if sniffed.loader == HEIF_LOADER:
        if source.path is None:
            raise ValueError("HEIC originals are read from a path")
        header = read_heif_header(source.path, sniffed)  # libheif's size is upright already
        return header.width, header.height
    image = _load(source, "sequential", {})
    turned = _orientation(image) in (5, 6, 7, 8)
    return (image.height, image.width) if turned else (image.width, image.height)
