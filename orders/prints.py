"""Prints of an image: what was ordered, where each size is cropped, what it prints at.

Read side (the writes are in ``orders.print_services``):

- ``ordered_lines(image)``: the image's own print lines, else its order's;
- ``crop_facts(image)``: for each ordered physical size, its crop (placed now if
  it had none), the crop's pixels on the best available file and its effective
  DPI, against ``PRINT_MIN_DPI``;
- ``print_shortfall(image)``: the sentence that sends an image to review when a
  crop falls short (``""`` when every size is met);
- ``print_renditions(image)``: what the PMR delivery sends, one JPEG per ordered
  physical size, rendered on demand from the full-resolution file.

"Best available file": ``Image.processed`` when the AI step stored one, else the
original. Both are upright pictures of the scene (the processed file is written upright;
a generative edit of another aspect shows part of it, never with fewer pixels); a crop is
kept in fractions of the file it is taken from and placed on it.
See docs/prints.md.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from utilities import media

from . import crops, print_services
from .models import Image, ImagePrint, OrderPrint, PrintCrop, PrintSize

log = logging.getLogger(__name__)

#: JPEG quality of a print rendition: prints are the product; size matters less.
RENDITION_QUALITY = 95


@dataclass
class PrintRendition:
    """One print size's file: its crop's own pixels, at the DPI they give on that size."""

    size_code: str
    width: int
    height: int
    dpi: int
    render: Callable[[], bytes]


@dataclass(frozen=True)
class Line:
    size: PrintSize
    quantity: int
    #: The image's own line (True) or its order's (False).
    own: bool


@dataclass(frozen=True)
class CropFact:
    """A crop and what it gives on the best available file, for one ordered size."""

    size: PrintSize
    crop: PrintCrop
    #: Print size in inches, turned like the picture: (width, height).
    inches: tuple[float, float]
    pixels: crops.PixelRect
    dpi: int
    needed: tuple[int, int]
    min_dpi: int

    @property
    def short(self) -> bool:
        return self.dpi < self.min_dpi

    def sentence(self) -> str:
        """ "8×10 needs 3000×2400 pixels at 300 DPI; this crop has 1800×1440 (180 DPI)"."""
        return (
            f"{self.size.label} needs {self.needed[0]}×{self.needed[1]} pixels at "
            f"{self.min_dpi} DPI; this crop has {self.pixels.width}×{self.pixels.height} "
            f"({self.dpi} DPI)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "size": self.size.code,
            "label": self.size.label,
            **crops.Rect(self.crop.x, self.crop.y, self.crop.width, self.crop.height).as_dict(),
            "basis": self.crop.basis,
            "aspect": round(self.inches[0] / self.inches[1], 6),
            "pixels": [self.pixels.width, self.pixels.height],
            "dpi": self.dpi,
            "min_dpi": self.min_dpi,
            "needed": list(self.needed),
            "short": self.short,
        }


def min_dpi() -> int:
    return int(settings.PRINT_MIN_DPI)


# --- what was ordered ----------------------------------------------------------------


def order_lines(order: Any) -> list[OrderPrint]:
    return list(OrderPrint.objects.filter(order_id=order.pk).select_related("size"))


def image_lines(image: Image) -> list[ImagePrint]:
    return list(ImagePrint.objects.filter(image_id=image.pk).select_related("size"))


def ordered_lines(image: Image) -> list[Line]:
    """The image's own lines when it has any (they replace the order's), else the order's."""
    own = image_lines(image)
    if own:
        return [Line(line.size, line.quantity, True) for line in own]
    return [Line(line.size, line.quantity, False) for line in order_lines(image.order)]


def ordered_sizes(image: Image) -> list[PrintSize]:
    """The physical sizes ordered for the image (a digital file needs no crop)."""
    return [line.size for line in ordered_lines(image) if line.size.is_physical]


def order_has_prints(order_id: int) -> bool:
    """Does anything in the order ask for a physical print? (one query; the cheap gate)"""
    return (
        OrderPrint.objects.filter(order_id=order_id, size__width_in__isnull=False).exists()
        or ImagePrint.objects.filter(
            image__order_id=order_id, size__width_in__isnull=False
        ).exists()
    )


def orders_with_prints(order_ids: set[int]) -> set[int]:
    """Which of these orders ask for a physical print (two queries, whatever their number)."""
    if not order_ids:
        return set()
    ordered = OrderPrint.objects.filter(order_id__in=order_ids, size__width_in__isnull=False)
    own = ImagePrint.objects.filter(image__order_id__in=order_ids, size__width_in__isnull=False)
    return set(ordered.values_list("order_id", flat=True)) | set(
        own.values_list("image__order_id", flat=True)
    )


# --- a digital file: what its pixels would print ------------------------------------------


@dataclass(frozen=True)
class DigitalFacts:
    """What a file with no print ordered states instead of a DPI: its pixels, and the largest
    print size (of the active ones) its largest crop meets at ``PRINT_MIN_DPI``."""

    width: int
    height: int
    largest_print: PrintSize | None
    min_dpi: int

    @property
    def megapixels(self) -> float:
        return round(self.width * self.height / 1_000_000, 1)

    def sentence(self) -> str:
        """ "6000×4000 pixels (24.0 MP); prints up to 11×14 at 300 DPI"."""
        pixels = f"{self.width}×{self.height} pixels ({self.megapixels} MP)"
        if self.largest_print is None:
            return f"{pixels}; too small for any print size at {self.min_dpi} DPI"
        return f"{pixels}; prints up to {self.largest_print.label} at {self.min_dpi} DPI"

    def as_dict(self) -> dict[str, Any]:
        return {
            "pixels": [self.width, self.height],
            "megapixels": self.megapixels,
            "largest_print": self.largest_print.code if self.largest_print else None,
            "largest_print_min_dpi": self.min_dpi,
        }


def physical_sizes() -> list[PrintSize]:
    """The active physical print sizes (one query): what ``digital_facts`` measures against."""
    return [
        size
        for size in PrintSize.objects.filter(active=True, width_in__isnull=False)
        if size.is_physical
    ]


def digital_facts(
    width: int | None, height: int | None, sizes: Iterable[PrintSize] | None = None
) -> DigitalFacts | None:
    """Issue 16: a digital-only file states no DPI (a DPI needs inches, and nobody ordered
    any), but what a buyer of a digital file wants to know: its pixels, and the largest print
    it could still make at the studio's ``PRINT_MIN_DPI`` (the largest crop of that size's
    aspect, turned like the file, as the print crops are). None without a pixel size.
    ``sizes``: ``physical_sizes()`` when the caller has read them already (a drain asks for
    hundreds of files; one query, not one per file)."""
    if not width or not height:
        return None
    floor = min_dpi()
    best: PrintSize | None = None
    for size in physical_sizes() if sizes is None else sizes:
        inches = aspect_for(size, width, height)
        rect, _ = crops.place(width, height, inches[0] / inches[1])
        pixels = crops.to_pixels(rect, width, height, inches[0] / inches[1])
        if crops.effective_dpi(pixels.width, pixels.height, *inches) < floor:
            continue
        if best is None or _area(size) > _area(best):
            best = size
    return DigitalFacts(width, height, best, floor)


def _area(size: PrintSize) -> float:
    short_in, long_in = size.inches()
    return short_in * long_in


def image_digital_facts(image: Image) -> DigitalFacts | None:
    """``digital_facts`` of the image's best available file (the one delivered as edited, else
    the original); None when no size can be read."""
    try:
        return digital_facts(*source_size(image))
    except Exception:  # an unreadable file: the page says nothing rather than fail
        log.info("Pixel size of image %s not read", image.pk, exc_info=True)
        return None


# --- the file crops are taken from -------------------------------------------------------


def source_file(image: Image):
    """The best available full-resolution file: the processed one if set, else the original."""
    return image.processed if image.processed else image.original


def source_size(image: Image) -> tuple[int, int]:
    """Upright (width, height) of ``source_file``: the original's from ingest, else its header."""
    if not image.processed and image.width and image.height:
        return image.width, image.height
    field = source_file(image)
    try:
        picture = _open_vips(field)
    except Exception:  # anything libvips cannot read, Pillow may
        return _pillow_size(field)
    fields = set(picture.get_fields())
    orientation = picture.get("orientation") if "orientation" in fields else 1
    if orientation in (5, 6, 7, 8):
        return picture.height, picture.width
    return picture.width, picture.height


def _open_vips(field, access: str = "random"):
    # libvips loads where prints are made (the workers), not in every process that imports this.
    import pyvips

    from .imaging.vips import configure

    configure()
    if media.has_local_paths(field.storage):
        return pyvips.Image.new_from_file(field.path, access=access)
    # Object storage: libvips reads from the store's stream (no whole copy in memory).
    stream = media.open_stream(field.storage, field.name)
    source = pyvips.SourceCustom()
    source.on_read(lambda size: stream.read(size))
    return pyvips.Image.new_from_source(source, "", access=access)


def _pillow_size(field) -> tuple[int, int]:
    from PIL import Image as PILImage

    with field.storage.open(field.name, "rb") as fh, PILImage.open(fh) as picture:
        orientation = picture.getexif().get(0x0112, 1)
        size = picture.size
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def faces_in(image: Image, width: int, height: int) -> list[tuple[float, float, float, float]]:
    """The faces the analysis found, as boxes on a picture of ``width`` × ``height``.

    The local provider stores boxes in the original's upright pixels beside that
    size (``ai_metadata["analyze"]["facts"]``); other providers' facts have no
    boxes, and then there are none.
    """
    facts = (image.ai_metadata or {}).get("analyze", {}).get("facts", {})
    if not isinstance(facts, dict):
        return []
    found = facts.get("faces")
    if not isinstance(found, dict) or not found.get("available"):
        return []
    basis_w = facts.get("width") or image.width
    basis_h = facts.get("height") or image.height
    if not basis_w or not basis_h:
        return []
    left, top, shown_w, shown_h = _shown_part(image, float(basis_w), float(basis_h), width, height)
    sx, sy = width / shown_w, height / shown_h
    boxes = []
    for face in found.get("faces") or []:
        box = face.get("box") if isinstance(face, dict) else None
        if isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box):
            boxes.append(((box[0] - left) * sx, (box[1] - top) * sy, box[2] * sx, box[3] * sy))
    return boxes


def _shown_part(
    image: Image, basis_w: float, basis_h: float, width: int, height: int
) -> tuple[float, float, float, float]:
    """The part of the original (left, top, width, height in its pixels) a picture of
    ``width`` x ``height`` shows: all of it, or, for a generative edit of another aspect, the
    region the model's answer framed (``ai_metadata["full_resolution"]["region"]``, stored by
    the AI step), so the faces land where they are in the edited file."""
    meta = (image.ai_metadata or {}).get("full_resolution") if image.processed else None
    region = meta.get("region") if isinstance(meta, dict) else None
    original = meta.get("original_size") if isinstance(meta, dict) else None
    if (
        isinstance(region, list)
        and len(region) == 4
        and all(isinstance(v, int | float) and v >= 0 for v in region)
        and region[2] > 0
        and region[3] > 0
        and abs((region[2] / region[3]) / (width / height) - 1) < 0.01
    ):
        scale = 1.0
        if isinstance(original, list) and len(original) == 2 and original[0]:
            scale = basis_w / float(original[0])  # the analysis's pixels vs the original's
        return tuple(v * scale for v in region)  # type: ignore[return-value]
    return 0.0, 0.0, basis_w, basis_h


def aspect_for(size: PrintSize, width: int, height: int) -> tuple[float, float]:
    """The print's (width, height) in inches, turned like a picture of ``width`` × ``height``."""
    short_in, long_in = size.inches()
    return crops.print_inches(short_in, long_in, width, height)


def auto_crop(image: Image, size: PrintSize, width: int, height: int) -> tuple[crops.Rect, str]:
    """Where the automatic placement puts ``size``'s crop, and its basis (faces or centre)."""
    inches = aspect_for(size, width, height)
    faces = faces_in(image, width, height)
    rect, by_faces = crops.place(width, height, inches[0] / inches[1], faces)
    return rect, PrintCrop.Basis.FACES if by_faces else PrintCrop.Basis.CENTRE


# --- crops and their DPI -------------------------------------------------------------------


def crop_facts(image: Image, *, actor: Any = None) -> list[CropFact]:
    """Every ordered physical size of the image with its crop and effective DPI.

    Crops are placed (and stored) for sizes that have none yet; that write is
    ``print_services.ensure_crops``.
    """
    sizes = ordered_sizes(image)
    if not sizes:
        return []
    width, height = source_size(image)
    stored = print_services.ensure_crops(image, sizes, (width, height))
    floor = min_dpi()
    facts = []
    for size in sizes:
        crop = stored[size.pk]
        inches = aspect_for(size, width, height)
        rect = crops.Rect(crop.x, crop.y, crop.width, crop.height)
        pixels = crops.to_pixels(rect, width, height, inches[0] / inches[1])
        facts.append(
            CropFact(
                size=size,
                crop=crop,
                inches=inches,
                pixels=pixels,
                dpi=crops.effective_dpi(pixels.width, pixels.height, *inches),
                needed=crops.pixels_needed(*inches, floor),
                min_dpi=floor,
            )
        )
    return facts


def print_shortfall(image: Image) -> str:
    """Why the image cannot print every size it was ordered in at ``PRINT_MIN_DPI``; "" if it can.

    One sentence per size that falls short, joined: what the review queue shows.
    """
    short = [fact.sentence() for fact in crop_facts(image) if fact.short]
    return "; ".join(short) + ("." if short else "")


# --- renditions for delivery ------------------------------------------------------------


def print_renditions(image: Image) -> list[PrintRendition]:
    """One rendition per ordered physical size; ``render()`` makes its JPEG when called.

    The JPEG is the crop's own pixels of the best available file (no resampling:
    the lab scales), upright, in sRGB, with its effective DPI in the JFIF header
    and in EXIF (XResolution/YResolution, inches).
    """
    renditions = []
    for fact in crop_facts(image):
        pixels, dpi = fact.pixels, fact.dpi
        renditions.append(
            PrintRendition(
                size_code=fact.size.code,
                width=pixels.width,
                height=pixels.height,
                dpi=dpi,
                render=_renderer(image, pixels, dpi),
            )
        )
    return renditions


def _renderer(image: Image, pixels: crops.PixelRect, dpi: int) -> Callable[[], bytes]:
    field = source_file(image)

    def render() -> bytes:
        try:
            return _render_vips(field, pixels, dpi)
        except Exception as exc:  # a format libvips cannot read (HEIC): Pillow
            log.info("libvips could not render %s (%s); using Pillow", field.name, exc)
            return _render_pillow(field, pixels, dpi)

    return render


def _exif_with_dpi(dpi: int) -> bytes:
    from PIL import Image as PILImage

    exif = PILImage.Exif()
    exif[0x0128] = 2  # ResolutionUnit: inches
    exif[0x011A] = dpi  # XResolution
    exif[0x011B] = dpi  # YResolution
    return b"Exif\x00\x00" + exif.tobytes()


def _render_vips(field, pixels: crops.PixelRect, dpi: int) -> bytes:
    """libvips: decode, turn upright, crop, to sRGB, JPEG; only the crop is kept in memory."""
    # libvips loads where prints are made (the workers), not in every process that imports this.
    import pyvips

    from .imaging.colour import to_srgb_8bit

    picture = _open_vips(field, access="sequential")
    fields = set(picture.get_fields())
    if "orientation" in fields and picture.get("orientation") not in (0, 1):
        # Turning needs the whole picture; upright files (nearly all) stream top to bottom.
        picture = _open_vips(field).autorot()
    picture = picture.crop(pixels.left, pixels.top, pixels.width, pixels.height)
    if picture.get_typeof("icc-profile-data") or picture.interpretation == "cmyk":
        try:
            picture = picture.icc_transform("srgb", intent="perceptual")
        except pyvips.Error:
            log.info("ICC transform failed for %s; using the pixels as they are", field.name)
    picture = to_srgb_8bit(picture).copy(xres=dpi / 25.4, yres=dpi / 25.4)
    for name in picture.get_fields():
        if name.startswith("exif-") or name in ("xmp-data", "iptc-data", "icc-profile-data"):
            picture.remove(name)
    picture.set_type(pyvips.GValue.blob_type, "exif-data", _exif_with_dpi(dpi))
    return picture.jpegsave_buffer(Q=RENDITION_QUALITY, keep="exif")


def _render_pillow(field, pixels: crops.PixelRect, dpi: int) -> bytes:
    from PIL import Image as PILImage
    from PIL import ImageOps

    with field.storage.open(field.name, "rb") as fh, PILImage.open(fh) as picture:
        upright = ImageOps.exif_transpose(picture)
        part = upright.crop(
            (pixels.left, pixels.top, pixels.left + pixels.width, pixels.top + pixels.height)
        ).convert("RGB")
    out = io.BytesIO()
    exif = PILImage.Exif()
    exif[0x0128], exif[0x011A], exif[0x011B] = 2, dpi, dpi
    part.save(out, format="JPEG", quality=RENDITION_QUALITY, dpi=(dpi, dpi), exif=exif)
    return out.getvalue()
