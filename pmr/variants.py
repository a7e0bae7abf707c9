"""Which files the PMR receives for one image, and the DPI each file states (contract 1.6).

Every delivered image goes out as its untouched **original** (the bytes the studio received,
SHA-256 unchanged), its **edited** file when the AI step (or a person) stored one, and one
**print** rendition per print size ordered for it (``orders.prints.print_renditions``: the
crop, rendered when it is sent). Each is its own outbox row and its own PMR file, so each is
written exactly once and a failure of one never resends the others.

The DPI a file states (``X-Image-DPI``): a print's is its rendition's (the crop's pixels over
the print's inches); the original's and the edited file's is what the whole file gives at
the largest print size ordered for the image (the smallest DPI over the ordered sizes). An
image with no print ordered (digital only) has no print size to measure against: its files
state no DPI (a DPI needs inches, and nobody ordered any). Instead its original and edited
files state their pixel size and the largest print size they meet at ``PRINT_MIN_DPI`` in
``X-Image-Metadata`` (``digital_facts``): what a buyer of a digital file wants to know.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from orders import prints

log = logging.getLogger(__name__)

ORIGINAL, EDITED, PRINT = "original", "edited", "print"
VARIANTS = (ORIGINAL, EDITED, PRINT)
#: What a file is called in sentences ("40 originals, 40 edited files, 12 prints").
NOUNS = {ORIGINAL: ("original", "originals"), EDITED: ("edited file", "edited files")}
NOUNS[PRINT] = ("print", "prints")


class Rendition(Protocol):
    """What this module needs of ``orders.prints.PrintRendition``."""

    size_code: str
    width: int
    height: int
    dpi: int


@dataclass(frozen=True)
class FileSpec:
    """One file of an image to deliver: its variant and, for a print, its size code."""

    variant: str
    print_size: str | None = None

    @property
    def key(self) -> str:
        """Stable text for idempotency keys and de-duplication ("print:8x10")."""
        return f"{self.variant}:{self.print_size}" if self.print_size else self.variant

    def payload(self, image_ref: str) -> dict[str, str]:
        data = {"image_ref": image_ref, "variant": self.variant}
        if self.print_size:
            data["print_size"] = self.print_size
        return data


def spec_of(payload: dict) -> FileSpec | None:
    """The file an outbox row sends; None for a row written before variants (it sends the
    edited file, else the original, with no variant header: the 1.5 meaning)."""
    variant = payload.get("variant")
    if variant not in VARIANTS:
        return None
    return FileSpec(variant, payload.get("print_size") or None)


def file_facts(payload: dict) -> dict[str, str]:
    """The part of an upload row's payload that names its file (for timeline payloads)."""
    return {k: v for k, v in (payload or {}).items() if k in ("variant", "print_size")}


def file_label(payload: dict) -> str:
    """What file an upload row sends, as people read it: "the original", "the edited file",
    "the 8x10 print"; "" for a row from before variants (the image's one file)."""
    spec = spec_of(payload or {})
    if spec is None:
        return ""
    if spec.variant == PRINT:
        return f"the {spec.print_size} print"
    return f"the {NOUNS[spec.variant][0]}"


def renditions_of(image: Any) -> list:
    """``orders.prints.print_renditions(image)``, or none when the image's crops cannot be
    worked out (logged): a delivery (or the AI step whose completion starts it) never fails
    because of a print."""
    try:
        return list(prints.print_renditions(image))
    except Exception:
        log.exception("print renditions of image %s could not be listed", image.pk)
        return []


def files_of(has_edited: bool, renditions: Iterable[Rendition]) -> list[FileSpec]:
    """The files of one image, in the order they are sent: original, edited, prints."""
    files = [FileSpec(ORIGINAL)]
    if has_edited:
        files.append(FileSpec(EDITED))
    files.extend(FileSpec(PRINT, r.size_code) for r in renditions)
    return files


def whole_file_dpi(
    width: int | None, height: int | None, renditions: Iterable[Rendition]
) -> int | None:
    """The DPI a whole file of ``width`` by ``height`` pixels gives at the largest print size
    ordered (the smallest over the sizes), or None without a print size or pixel size.

    A rendition's inches are its pixels over its DPI. Long side is matched with long side,
    so a portrait file measured against a landscape crop (or an EXIF-turned original) reads
    the same; the crop to the print's shape is the largest that fits, as the print crop is.
    """
    if not width or not height:
        return None
    long_px, short_px = max(width, height), min(width, height)
    found = None
    for r in renditions:
        if not r.dpi or not r.width or not r.height:
            continue
        long_in = max(r.width, r.height) / r.dpi
        short_in = min(r.width, r.height) / r.dpi
        dpi = max(1, int(min(long_px / long_in, short_px / short_in)))
        found = dpi if found is None else min(found, dpi)
    return found


def describe(counts: dict[str, int]) -> str:
    """ "40 originals, 40 edited files and 12 prints" (variants with none left out)."""
    parts = []
    for variant in VARIANTS:
        n = counts.get(variant, 0)
        if n:
            one, many = NOUNS[variant]
            parts.append(f"{n} {one if n == 1 else many}")
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def digital_facts(
    image: Any,
    width: int | None,
    height: int | None,
    *,
    prints_ordered: bool | None = None,
    sizes: Iterable[Any] | None = None,
) -> dict[str, Any]:
    """What a file of an image with no print ordered states instead of a DPI
    (``X-Image-Metadata``): ``{"digital": {"pixels": [w, h], "megapixels": 24.0,
    "largest_print": "11x14", "largest_print_min_dpi": 300}}``; ``{}`` without a pixel size,
    or when prints are ordered (their crops could not be worked out: no DPI, but no claim).
    ``prints_ordered`` False: the caller knows that nothing physical is ordered in the
    image's whole order (``prints.order_has_prints``), so the image is not asked again (two
    queries); ``sizes``: ``prints.physical_sizes()`` when the caller has read them already."""
    if prints_ordered is not False and prints.ordered_sizes(image):
        return {}
    facts = prints.digital_facts(width, height, sizes)
    return {"digital": facts.as_dict()} if facts is not None else {}
