"""Full resolution, always: carry a model's small edit onto the full-size original.

The edit models answer at about 1 MP; a studio's original is 24 MP. This package decides
what the answer is and how to reach the original's size with the original's detail:

- ``plan(source, answer)`` aligns the answer with the original (``align``), fits a colour
  transform on the small pair (``transform``: tone curves, a colour matrix, local gain and
  offset fields, after bilateral guided upsampling) and scores it (``score``). A transform
  that explains the answer makes a ``tonal`` plan; one that does not (the model changed
  content) a ``generative`` plan, which the caller enlarges instead
  (``ai_processing.upscale``). An answer already at the original's size is kept as it is.
- ``render(source, plan)`` applies a tonal plan to the full original in one libvips stream
  (decode, lookup, matrix, fields, JPEG encode; never the whole picture in memory) and
  returns the JPEG, with the original's ICC profile.

No Django here: plain data in and out. See docs/ai.md, "Full resolution: tonal edits".
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .align import Region, candidates, small_view
from .score import Score, judge
from .source import Source, open_upright, upright_size
from .transform import Transform, fit

__all__ = ["Plan", "Region", "Score", "Source", "Transform", "decode_answer", "plan", "render"]

#: Defaults of the settings FULLRES_MIN_PSNR and FULLRES_MAX_CHANGED_SHARE.
MIN_PSNR = 28.0
MAX_CHANGED_SHARE = 0.005


@dataclass
class Plan:
    """What to do with one answer. ``kind``: "tonal", "generative" or "full_size"."""

    kind: Literal["tonal", "generative", "full_size"]
    original_size: tuple[int, int]
    answer_size: tuple[int, int]
    region: Region
    transform: Transform | None = None
    score: Score | None = None
    tried: list[dict[str, object]] = field(default_factory=list)

    @property
    def target_size(self) -> tuple[int, int]:
        """The size the result must have: the original's (or, for a generative answer of
        another aspect, the part of the original it shows, at the original's density)."""
        return self.original_size if self.kind != "generative" else self.region.full_size()

    def describe(self) -> dict[str, object]:
        """For ``ai_metadata``: small and JSON-able."""
        facts: dict[str, object] = {
            "method": {
                "tonal": "tonal transfer",
                "generative": "generative",
                "full_size": "answered at full size",
            }[self.kind],
            "original_size": list(self.original_size),
            "answer_size": list(self.answer_size),
            "framing": self.region.how,
        }
        if self.score is not None:
            facts["fit"] = self.score.as_dict()
        if self.transform is not None and self.kind == "tonal":
            facts["transform"] = self.transform.describe()
        if len(self.tried) > 1:
            facts["framings_tried"] = self.tried
        return facts


def decode_answer(data: bytes) -> np.ndarray:
    """The model's answer as H x W x 3 uint8 (upright, RGB)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(ImageOps.exif_transpose(picture).convert("RGB"))


def plan(
    source: Source,
    answer: bytes | np.ndarray,
    *,
    min_psnr: float = MIN_PSNR,
    max_changed: float = MAX_CHANGED_SHARE,
) -> Plan:
    """Align, fit and judge: the plan for carrying ``answer`` to the original's size."""
    pixels = decode_answer(answer) if isinstance(answer, bytes) else answer
    original = upright_size(source)
    size = (pixels.shape[1], pixels.shape[0])
    if size[0] >= original[0] and size[1] >= original[1]:
        whole = Region(0.0, 0.0, float(original[0]), float(original[1]), "whole")
        return Plan("full_size", original, size, whole)
    best: Plan | None = None
    tried: list[dict[str, object]] = []
    for region in candidates(original, size):
        small = small_view(source, region, size)
        transform = fit(small, pixels)
        score = judge(transform.predict(small), pixels, min_psnr=min_psnr, max_changed=max_changed)
        tried.append({"framing": region.how, **score.as_dict()})
        if best is None or score.psnr > best.score.psnr:  # type: ignore[union-attr]
            kind: Literal["tonal", "generative"] = "tonal" if score.tonal else "generative"
            best = Plan(kind, original, size, region, transform, score)
    assert best is not None
    best.tried = tried
    return best


def render(source: Source, chosen: Plan, *, quality: int = 98) -> bytes:
    """A tonal plan applied to the full original: a JPEG of the original's size.

    Quality 98 by default (the setting FULLRES_JPEG_QUALITY): at 95 the encoder's
    quantisation takes up to a tenth of the fine detail the transform kept (the
    high-frequency energy the reference has; docs/benchmarks.md, "Full resolution").
    """
    if chosen.kind != "tonal" or chosen.transform is None:
        raise ValueError(f"only a tonal plan is rendered here, not {chosen.kind!r}")
    image = open_upright(source)
    out = chosen.transform.apply(image, chosen.region.as_tuple())
    return out.jpegsave_buffer(Q=quality, keep="icc", optimize_coding=False)
