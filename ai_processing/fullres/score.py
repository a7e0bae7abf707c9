"""How well a fitted transform explains the small pair: the tonal-or-generative verdict.

Two measures, because each misses what the other sees:

- PSNR of ``transform(small original)`` against the model's answer, over the whole picture:
  low when the edit is not a function of colour and place (a new background, a restyle).
- The changed share: the part of the picture where the residual, smoothed over a small
  neighbourhood (about 1/64 of the short side), stays above ``CHANGE_LEVEL`` levels. A
  removed object or a replaced face leaves a patch of large residual that hardly dents the
  global PSNR; sharpening and JPEG noise leave residuals that average out.

An edit is tonal when PSNR >= the minimum and the changed share <= the maximum (both
settings: ``FULLRES_MIN_PSNR``, ``FULLRES_MAX_CHANGED_SHARE``). No Django here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Smoothed luminance residual (0-255) above which a pixel counts as changed in content.
CHANGE_LEVEL = 16.0


@dataclass(frozen=True)
class Score:
    psnr: float
    changed_share: float
    tonal: bool

    def as_dict(self) -> dict[str, float | bool]:
        return {
            "psnr_db": round(self.psnr, 2),
            "changed_share": round(self.changed_share, 4),
            "tonal": self.tonal,
        }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two 0-255 arrays (99 for identical ones)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse <= 1e-10 else 10 * math.log10(255.0**2 / mse)


def changed_share(predicted: np.ndarray, answer: np.ndarray) -> float:
    """Share of the picture where the smoothed luminance residual exceeds ``CHANGE_LEVEL``."""
    residual = _luma(predicted) - _luma(answer)
    radius = max(2, round(min(residual.shape) / 128))
    smooth = _box(residual, radius)
    return float((np.abs(smooth) > CHANGE_LEVEL).mean())


def judge(
    predicted: np.ndarray, answer: np.ndarray, *, min_psnr: float, max_changed: float
) -> Score:
    clipped = np.clip(np.rint(predicted), 0, 255)
    value = psnr(clipped, answer)
    share = changed_share(clipped, answer)
    return Score(psnr=value, changed_share=share, tonal=value >= min_psnr and share <= max_changed)


def _luma(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]


def _box(a: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2 radius + 1) square, by cumulative sums (edges: the part inside)."""
    size = 2 * radius + 1
    padded = np.pad(a, radius, mode="edge")
    cs = np.cumsum(np.cumsum(padded, axis=0), axis=1)
    cs = np.pad(cs, ((1, 0), (1, 0)))
    h, w = a.shape
    total = (
        cs[size : size + h, size : size + w]
        - cs[:h, size : size + w]
        - cs[size : size + h, :w]
        + cs[:h, :w]
    )
    return total / (size * size)
