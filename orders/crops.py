"""Crop geometry for prints: pure arithmetic, no Django, no files.

A print size has an aspect ratio (4×6 is 2:3); a photo has its own. The crop is
the largest rectangle of the print's aspect that fits the photo, turned the way
the photo is (a landscape photo gets a landscape 6×4), so that as many of the
photo's pixels as possible reach the paper: the effective DPI is then the best
the file allows. Where it sits: around the faces the analysis found (all of
them if they fit; their centre otherwise, with a little headroom above), else
in the middle. Coordinates are fractions of the upright picture (0–1), so a
crop placed on the analysis's pixels fits the original, the processed file and
the preview alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Faces sit a little above the crop's middle: the share of the free height left above them.
HEADROOM = 0.4


@dataclass(frozen=True)
class Rect:
    """A crop in fractions of the picture: left, top, width, height (all within 0–1)."""

    x: float
    y: float
    width: float
    height: float

    def as_dict(self) -> dict[str, float]:
        return {
            "x": round(self.x, 6),
            "y": round(self.y, 6),
            "width": round(self.width, 6),
            "height": round(self.height, 6),
        }


@dataclass(frozen=True)
class PixelRect:
    left: int
    top: int
    width: int
    height: int


def print_inches(short_in: float, long_in: float, picture_w: int, picture_h: int) -> tuple:
    """(width, height) of the print in inches, turned like the picture (landscape if wider)."""
    return (long_in, short_in) if picture_w > picture_h else (short_in, long_in)


def place(
    picture_w: int,
    picture_h: int,
    aspect: float,
    faces: Iterable[Sequence[float]] = (),
) -> tuple[Rect, bool]:
    """The largest crop of ``aspect`` (width / height) in the picture, and whether faces placed it.

    ``faces`` are boxes ``(x, y, w, h)`` in the picture's pixels. The crop keeps
    every face when it can; otherwise it centres on them all the same.
    """
    if picture_w <= 0 or picture_h <= 0 or aspect <= 0:
        raise ValueError("a picture and an aspect ratio need positive sizes")
    if picture_w / picture_h > aspect:
        crop_h = float(picture_h)
        crop_w = crop_h * aspect
    else:
        crop_w = float(picture_w)
        crop_h = crop_w / aspect
    boxes = [tuple(float(v) for v in box[:4]) for box in faces if len(box) >= 4]
    boxes = [b for b in boxes if b[2] > 0 and b[3] > 0]
    if boxes:
        left = min(b[0] for b in boxes)
        top = min(b[1] for b in boxes)
        right = max(b[0] + b[2] for b in boxes)
        bottom = max(b[1] + b[3] for b in boxes)
        x = (left + right) / 2 - crop_w / 2
        spare_h = crop_h - (bottom - top)
        y = top - spare_h * HEADROOM if spare_h > 0 else (top + bottom) / 2 - crop_h / 2
    else:
        x = (picture_w - crop_w) / 2
        y = (picture_h - crop_h) / 2
    x = min(max(x, 0.0), picture_w - crop_w)
    y = min(max(y, 0.0), picture_h - crop_h)
    rect = Rect(x / picture_w, y / picture_h, crop_w / picture_w, crop_h / picture_h)
    return clamp(rect), bool(boxes)


def clamp(rect: Rect) -> Rect:
    """The rectangle moved (then shrunk, if it must) to lie within the picture."""
    width = min(max(rect.width, 1e-6), 1.0)
    height = min(max(rect.height, 1e-6), 1.0)
    x = min(max(rect.x, 0.0), 1.0 - width)
    y = min(max(rect.y, 0.0), 1.0 - height)
    return Rect(x, y, width, height)


def to_pixels(rect: Rect, picture_w: int, picture_h: int, aspect: float) -> PixelRect:
    """The crop on a file of ``picture_w`` × ``picture_h``, trimmed to exactly ``aspect``.

    A crop drawn on one file (the analysis's, the preview) lands on another whose
    proportions may differ by a pixel or a few (a model's answer size): the longer
    side is trimmed around the centre so the print is never stretched.
    """
    left = rect.x * picture_w
    top = rect.y * picture_h
    width = rect.width * picture_w
    height = rect.height * picture_h
    if width / height > aspect:
        new_w = height * aspect
        left += (width - new_w) / 2
        width = new_w
    else:
        new_h = width / aspect
        top += (height - new_h) / 2
        height = new_h
    px_left = max(0, min(picture_w - 1, math.floor(left + 1e-6)))
    px_top = max(0, min(picture_h - 1, math.floor(top + 1e-6)))
    px_w = max(1, min(picture_w - px_left, round(width)))
    px_h = max(1, min(picture_h - px_top, round(height)))
    return PixelRect(px_left, px_top, px_w, px_h)


def effective_dpi(pixels_w: int, pixels_h: int, inches_w: float, inches_h: float) -> int:
    """The DPI a crop prints at: the lower of its two directions, rounded down."""
    return math.floor(min(pixels_w / inches_w, pixels_h / inches_h) + 1e-9)


def pixels_needed(inches_w: float, inches_h: float, dpi: int) -> tuple[int, int]:
    return math.ceil(inches_w * dpi - 1e-9), math.ceil(inches_h * dpi - 1e-9)
