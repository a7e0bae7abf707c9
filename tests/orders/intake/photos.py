"""Test files made at run time from the real photos in ``tests/data/photos``.

Every variant (EXIF orientations, CMYK, 16-bit, HEIC, blurred, turned, damaged)
is derived here from the five licensed photos, so the repository holds no other
binaries. Pillow writes the EXIF (it can write every tag we read); libvips makes
the colour-managed variants (CMYK and Display P3 with their ICC profiles).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pillow_heif
import pyvips
from PIL import Image, ImageFilter, ImageOps
from PIL.TiffImagePlugin import IFDRational

PHOTOS = Path(__file__).resolve().parents[2] / "data" / "photos"

pillow_heif.register_heif_opener()

#: How EXIF orientation n turns stored pixels upright (what a viewer applies)...
UPRIGHT = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,  # Pillow turns counter-clockwise: this is 90° clockwise
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: ...and the inverse: how to store an upright picture so that orientation n shows it upright.
STORED = {**UPRIGHT, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def photo(name: str = "coffee.png") -> Image.Image:
    """One of the licensed photos as an RGB (or, for camera.png, L) Pillow image."""
    with Image.open(PHOTOS / name) as image:
        return image.convert("L" if image.mode == "L" else "RGB")


def camera_exif(*, orientation: int = 1, gps: bool = False, make: str = "Canon") -> Image.Exif:
    """The EXIF a studio camera writes: body, lens, time, exposure, optionally GPS."""
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = f"{make} EOS R5"
    exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = IFDRational(1, 250)  # exposure time
    sub[0x829D] = IFDRational(28, 10)  # f-number
    sub[0x8827] = 400  # ISO
    sub[0x9003] = "2024:06:15 14:03:22"
    sub[0x9011] = "+02:00"
    sub[0x920A] = IFDRational(50, 1)  # focal length
    sub[0xA433] = make
    sub[0xA434] = "RF24-70mm F2.8 L IS USM"
    if gps:
        location = exif.get_ifd(0x8825)
        location[1] = "N"
        location[2] = (IFDRational(52, 1), IFDRational(22, 1), IFDRational(1230, 100))
        location[3] = "E"
        location[4] = (IFDRational(4, 1), IFDRational(53, 1), IFDRational(3000, 100))
        location[5] = b"\x00"
        location[6] = IFDRational(15, 1)
    return exif


def encode(image: Image.Image, fmt: str, *, exif: Image.Exif | None = None, **options) -> bytes:
    buffer = io.BytesIO()
    if exif is not None:
        options["exif"] = exif.tobytes()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def jpeg(image: Image.Image | None = None, *, quality: int = 90, **options) -> bytes:
    return encode(image if image is not None else photo(), "JPEG", quality=quality, **options)


def oriented_jpeg(orientation: int, upright: Image.Image | None = None) -> bytes:
    """A JPEG whose stored pixels need EXIF ``orientation`` to show ``upright``."""
    upright = upright if upright is not None else photo()
    turn = STORED[orientation]
    stored = upright.transpose(turn) if turn is not None else upright
    return jpeg(stored, exif=camera_exif(orientation=orientation))


def shown_upright(data: bytes) -> Image.Image:
    """What a correct viewer shows for ``data``: Pillow's own EXIF transpose."""
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")


def vips_variant(image: pyvips.Image, suffix: str, **options) -> bytes:
    return image.write_to_buffer(suffix, **options)


def vips_photo(name: str = "coffee.png") -> pyvips.Image:
    return pyvips.Image.new_from_file(str(PHOTOS / name))


def cmyk_jpeg() -> bytes:
    """A print-shop CMYK JPEG with its ICC profile embedded (libvips' built-in CMYK)."""
    return vips_variant(vips_photo().icc_transform("cmyk"), ".jpg", Q=95)


def p3_jpeg() -> bytes:
    """A Display P3 JPEG, as phones write them, with its profile embedded."""
    return vips_variant(vips_photo().icc_transform("p3"), ".jpg", Q=95)


def png16() -> bytes:
    """A 16-bit-per-channel PNG."""
    return vips_variant(vips_photo().colourspace("rgb16"), ".png")


def enlarged_jpeg(long_side: int = 3000, name: str = "coffee.png") -> bytes:
    """A photo enlarged past the preview size, as a camera file would be."""
    image = vips_photo(name)
    return vips_variant(image.resize(long_side / max(image.width, image.height)), ".jpg", Q=90)


def blurred_copy(data: bytes, *, radius: float = 1.5, quality: int = 70) -> bytes:
    """The same photo slightly blurred, shrunk and re-encoded: a near-duplicate."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image = image.filter(ImageFilter.GaussianBlur(radius))
    image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.Resampling.LANCZOS)
    return jpeg(image, quality=quality)


def turned_copy(data: bytes, turn: Image.Transpose = Image.Transpose.ROTATE_90) -> bytes:
    """The same photo turned in its pixels (no EXIF orientation): a turned duplicate."""
    return jpeg(Image.open(io.BytesIO(data)).convert("RGB").transpose(turn), quality=85)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small, valid-looking PNG that declares ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * width) * 20, 9)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def decode(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def mean_difference(a: Image.Image, b: Image.Image, width: int = 96) -> float:
    """Mean absolute difference per channel (0-255), both pictures shrunk to ``width``.

    Shapes must agree (a portrait compared with a landscape is a failure, not a blur).
    """
    assert (a.width >= a.height) == (b.width >= b.height), (a.size, b.size)
    size = (width, max(1, round(width * a.height / a.width)))
    small_a = a.convert("RGB").resize(size, Image.Resampling.BOX)
    small_b = b.convert("RGB").resize(size, Image.Resampling.BOX)
    diff = sum(abs(x - y) for x, y in zip(small_a.tobytes(), small_b.tobytes(), strict=True))
    return diff / (size[0] * size[1] * 3)
