"""Which part of the original the model's answer shows, and the original at the answer's size.

The remote models answer only at their allowed sizes (``ai_processing.clients.sizes``): the
request names the allowed size nearest to the photo's aspect (or to the preset's print
aspect), and the model fills that frame from the photo. Nano Banana and the simulators fill
it as ``ImageOps.fit`` does: scale to cover, crop the centre. A model may also squeeze the
whole photo into the frame. Both readings are candidates (one when the aspects agree); the
one the fitted transform explains best wins. No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvips

from .source import Source, open_upright

#: Aspect ratios closer than this are the same frame (no crop, no squeeze to tell apart).
SAME_ASPECT = 0.005


@dataclass(frozen=True)
class Region:
    """A rectangle of the upright original (floats, in its pixels) and how it was read."""

    left: float
    top: float
    width: float
    height: float
    how: str  # "whole", "centre crop" or "squeezed"

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.width, self.height)

    def full_size(self) -> tuple[int, int]:
        """The region's size in original pixels: what an enlarged answer must reach."""
        return max(1, round(self.width)), max(1, round(self.height))


def candidates(original: tuple[int, int], answer: tuple[int, int]) -> list[Region]:
    """The readings of how ``answer`` (w, h) frames ``original`` (W, H), most likely first."""
    big_w, big_h = original
    w, h = answer
    whole = Region(0.0, 0.0, float(big_w), float(big_h), "whole")
    ratio = (w / h) / (big_w / big_h)
    if abs(ratio - 1) <= SAME_ASPECT:
        return [whole]
    if ratio > 1:  # the answer is wider: the original's height is cropped
        crop_h = big_w * h / w
        cover = Region(0.0, (big_h - crop_h) / 2, float(big_w), crop_h, "centre crop")
    else:
        crop_w = big_h * w / h
        cover = Region((big_w - crop_w) / 2, 0.0, crop_w, float(big_h), "centre crop")
    return [cover, Region(0.0, 0.0, float(big_w), float(big_h), "squeezed")]


def small_view(source: Source, region: Region, size: tuple[int, int]) -> np.ndarray:
    """``region`` of the original resampled to ``size`` (w, h): H x W x 3 uint8.

    Decodes at a reduced scale where the format allows (a 24 MP JPEG at 1/4 for a 1 MP
    answer), then Lanczos to the exact size.
    """
    w, h = size
    full = open_upright(source)
    shrink = 1
    while shrink < 8 and region.width / (shrink * 2) >= w and region.height / (shrink * 2) >= h:
        shrink *= 2
    image = open_upright(source, shrink=shrink) if shrink > 1 else full
    sx, sy = image.width / full.width, image.height / full.height
    left, top = round(region.left * sx), round(region.top * sy)
    width = max(1, min(image.width - left, round(region.width * sx)))
    height = max(1, min(image.height - top, round(region.height * sy)))
    cropped = image.crop(left, top, width, height)
    resized = cropped.resize(w / width, vscale=h / height, kernel="lanczos3")
    if resized.width != w or resized.height != h:  # rounding in resize: pad or trim a pixel
        resized = resized.gravity("centre", w, h, extend="copy")
    return to_array(resized)


def to_array(image: pyvips.Image) -> np.ndarray:
    if image.format != "uchar":
        image = image.cast("uchar")
    return np.ndarray(
        buffer=image.write_to_memory(),
        dtype=np.uint8,
        shape=(image.height, image.width, image.bands),
    )
