"""Enlarge a generative edit to the size it must have: ``enlarge(data, width, height)``.

PLACEHOLDER of branch i16-fullres: the real module (Runware ``imageUpscale`` steps through
the provider chain, local Lanczos fallback) comes from branch i16-gen and replaces this file
at merge. This one keeps the same interface (``enlarge`` and ``UpscaleOutcome``'s fields)
and does only the local part: a Lanczos-3 resize to cover the target and a centre crop, so
the full-resolution step of the pipeline can be built and tested before the merge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyvips

JPEG_QUALITY = 95
METHOD_LOCAL = "local Lanczos-3 resize (libvips), not AI"


class UpscaleError(ValueError):
    """The data is not a decodable image, or the target size is not a size."""


@dataclass
class UpscaleOutcome:
    """The enlarged image (exactly ``width`` x ``height``, JPEG) and how it was made."""

    image_bytes: bytes
    mime_type: str
    width: int
    height: int
    source_size: tuple[int, int]
    steps: list[dict[str, Any]] = field(default_factory=list)
    trail: list[dict[str, Any]] = field(default_factory=list)
    trails: list[list[dict[str, Any]]] = field(default_factory=list)
    cost: Decimal = Decimal(0)
    method: str = METHOD_LOCAL
    cropped: float = 0.0

    @property
    def data(self) -> bytes:
        return self.image_bytes

    def to_metadata(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "ai_upscaled": False,
            "source_size": list(self.source_size),
            "size": [self.width, self.height],
            "steps": self.steps,
            "cost": str(self.cost),
        }


def enlarge(
    data: bytes,
    width: int,
    height: int,
    *,
    chain: Any = None,
    quality: int = JPEG_QUALITY,
    fresh: bool = False,
) -> UpscaleOutcome:
    """``data`` resized (Lanczos-3) to cover ``width`` x ``height`` and centre-cropped to it."""
    if width <= 0 or height <= 0:
        raise UpscaleError(f"target size must be positive, not {width}x{height}")
    started = time.perf_counter()
    try:
        source = pyvips.Image.new_from_buffer(data, "").autorot()
        if source.bands == 4:
            source = source.flatten(background=[255, 255, 255])
        if source.interpretation != "srgb" or source.format != "uchar":
            source = source.colourspace("srgb").cast("uchar")
    except pyvips.Error as exc:
        raise UpscaleError(f"not a decodable image: {exc.message}") from exc
    scale = max(width / source.width, height / source.height)
    covered = source.resize(scale, kernel="lanczos3")
    left = max(0, (covered.width - width) // 2)
    top = max(0, (covered.height - height) // 2)
    final = covered.crop(left, top, min(width, covered.width), min(height, covered.height))
    if final.width != width or final.height != height:  # rounding: a pixel short
        final = final.gravity("centre", width, height, extend="copy")
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return UpscaleOutcome(
        image_bytes=final.jpegsave_buffer(Q=quality, keep="none"),
        mime_type="image/jpeg",
        width=width,
        height=height,
        source_size=(source.width, source.height),
        steps=[{"factor": round(scale, 3), "method": METHOD_LOCAL}],
        trail=[
            {
                "provider": "local",
                "outcome": "ok",
                "reason": f"Lanczos-3 resize x{scale:.2f} to {width}x{height}",
                "elapsed_ms": elapsed,
            }
        ],
    )
