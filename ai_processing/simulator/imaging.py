"""Deterministic Pillow image operations standing in for the AI model (no Django)."""

from __future__ import annotations

import hashlib
import io

from PIL import Image, ImageEnhance, ImageFilter, ImageOps, ImageStat

FORMATS = {"JPG": ("JPEG", "jpg", "image/jpeg"), "PNG": ("PNG", "png", "image/png")}
FORMATS["WEBP"] = ("WEBP", "webp", "image/webp")
FORMATS["JPEG"] = FORMATS["JPG"]

_NAMED_COLOURS = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "red": (200, 30, 30),
    "orange": (240, 140, 20),
    "yellow": (230, 220, 40),
    "green": (40, 160, 50),
    "cyan": (40, 200, 210),
    "blue": (30, 60, 200),
    "purple": (130, 40, 160),
    "pink": (240, 130, 180),
    "brown": (120, 75, 35),
}


def open_image(data: bytes) -> Image.Image:
    """Decode image bytes (raises ValueError when they are not an image)."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:
        raise ValueError(f"not a decodable image: {exc}") from exc
    return img


def mime_of(data: bytes) -> tuple[str, str]:
    """(extension, MIME type) of encoded image bytes."""
    fmt = (open_image(data).format or "PNG").upper()
    return {"JPEG": ("jpg", "image/jpeg"), "WEBP": ("webp", "image/webp")}.get(
        fmt, ("png", "image/png")
    )


def encode(img: Image.Image, output_format: str = "JPG", quality: int = 95) -> bytes:
    pil_format = FORMATS.get(output_format.upper(), FORMATS["JPG"])[0]
    if pil_format == "JPEG" and img.mode != "RGB":
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format=pil_format, quality=quality)
    return buf.getvalue()


def _digest(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.digest()


def derived_seed(image: bytes | None, prompt: str) -> int:
    return int.from_bytes(_digest(image or b"", prompt.encode())[:4], "big") % 2**31


def edit(image: bytes, prompt: str, size: tuple[int, int]) -> Image.Image:
    """A real, deterministic edit: the prompt's hash picks the operations."""
    bits = _digest(prompt.encode())[0]
    img = ImageOps.exif_transpose(open_image(image)).convert("RGB")
    img = ImageOps.fit(img, size, Image.Resampling.LANCZOS)
    if bits & 1:
        img = ImageOps.autocontrast(img, cutoff=1)
    r, g, b = img.split()
    if bits & 2:  # warm shift
        r, b = r.point(lambda v: min(255, v + 18)), b.point(lambda v: max(0, v - 14))
    else:  # cool shift
        r, b = r.point(lambda v: max(0, v - 14)), b.point(lambda v: min(255, v + 18))
    img = Image.merge("RGB", (r, g, b))
    if bits & 4:
        img = img.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=2))
    if bits & 8:
        img = ImageEnhance.Color(img).enhance(1.15)
    return img


def generate(prompt: str, size: tuple[int, int]) -> Image.Image:
    """Text-to-image stand-in: a deterministic two-colour gradient from the prompt's hash."""
    d = _digest(prompt.encode())
    start, end = d[0:3], d[3:6]
    w, h = size
    grad = Image.linear_gradient("L").resize((w, h))
    a = Image.new("RGB", (w, h), tuple(start))
    b = Image.new("RGB", (w, h), tuple(end))
    return Image.composite(b, a, grad)


def _colour_name(rgb: tuple[int, int, int]) -> str:
    return min(
        _NAMED_COLOURS,
        key=lambda n: sum((c - k) ** 2 for c, k in zip(rgb, _NAMED_COLOURS[n], strict=True)),
    )


def caption(image: bytes) -> str:
    """Deterministic description from the pixels: colours, brightness, orientation, size."""
    img = ImageOps.exif_transpose(open_image(image)).convert("RGB")
    w, h = img.size
    small = img.resize((32, 32))
    pal = small.quantize(colors=4, method=Image.Quantize.MEDIANCUT)
    palette = pal.getpalette() or []
    counts = sorted(pal.getcolors() or [], reverse=True)
    names: list[str] = []
    for _count, idx in counts:
        name = _colour_name(tuple(palette[idx * 3 : idx * 3 + 3]))
        if name not in names:
            names.append(name)
    lum = ImageStat.Stat(img.convert("L")).mean[0]
    brightness = "dark" if lum < 85 else "bright" if lum > 170 else "evenly lit"
    orientation = "landscape" if w > h else "portrait" if h > w else "square"
    tones = " and ".join(names[:2]) if names else "neutral"
    return f"A {brightness} {orientation} photo ({w}x{h} pixels) with mostly {tones} tones."


def upscale(image: bytes, factor: int) -> Image.Image:
    """An honest enlargement: Lanczos resampling by ``factor`` on each side, then a light
    unsharp mask (a stand-in for the detail an AI upscaler adds; no model runs here)."""
    img = ImageOps.exif_transpose(open_image(image))
    mode = "RGBA" if img.mode in ("RGBA", "LA", "P") and "transparency" in img.info else None
    img = img.convert(mode or ("RGBA" if img.mode in ("RGBA", "LA") else "RGB"))
    big = img.resize((img.width * factor, img.height * factor), Image.Resampling.LANCZOS)
    return big.filter(ImageFilter.UnsharpMask(radius=1.2 * factor, percent=40, threshold=2))
