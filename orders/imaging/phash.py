"""Perceptual hashes: the same photo re-saved, resized, slightly blurred or turned stays close.

The DCT hash (pHash): the upright picture shrunk to 32 x 32 grey, a 2-D DCT,
the 8 x 8 lowest frequencies, one bit per coefficient: above their median or
not. Re-encoding and resizing move only high frequencies, so a near-duplicate
differs in a few bits; unrelated photos differ in about half of the 64.

A copy turned by 90°, 180° or 270° would hash differently, so the hashes of
the three turns are computed too. They need no second DCT: turning the 32 x 32
grid only transposes the coefficients and flips the sign of the odd ones
(DCT-II of a mirrored row is the same row with ``(-1)^k`` signs). Comparing a
new photo's four hashes with another photo's upright hash finds it however
either was turned.

Pure Python: the 8 x 32 partial DCT is ~10 000 multiply-adds, about a
millisecond, so numpy is not needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyvips

GRID = 32
LOW = 8

# COS[u][x] = cos(pi / GRID * (x + 0.5) * u): the DCT-II basis, low frequencies only.
_COS = [[math.cos(math.pi / GRID * (x + 0.5) * u) for x in range(GRID)] for u in range(LOW)]


@dataclass(frozen=True)
class PerceptualHash:
    """The upright hash and those of the picture turned 90°, 180° and 270° clockwise."""

    upright: str
    turned: tuple[str, str, str]

    @property
    def all(self) -> tuple[str, str, str, str]:
        return (self.upright, *self.turned)


def perceptual_hash(image: pyvips.Image) -> PerceptualHash:
    """pHash of an upright image (any size, any bands) and of its three turns."""
    grey = image.colourspace("b-w") if image.bands >= 3 else image
    if grey.hasalpha():
        grey = grey.extract_band(0)
    small = grey.thumbnail_image(GRID, height=GRID, size="force", no_rotate=True)
    pixels = small.cast("uchar").write_to_memory()
    if len(pixels) != GRID * GRID:  # pragma: no cover - thumbnail_image forces the size
        raise ValueError(f"expected a {GRID}x{GRID} grey grid, got {len(pixels)} values")
    return hash_grid([pixels[row * GRID : (row + 1) * GRID] for row in range(GRID)])


def hash_grid(rows: Sequence[Sequence[float]]) -> PerceptualHash:
    """pHash of a 32 x 32 grid of grey values (rows top to bottom) and of its three turns."""
    coeffs = _dct_low(rows)
    sign = [[-1.0 if (u + v) % 2 else 1.0 for u in range(LOW)] for v in range(LOW)]
    # Turning clockwise by 90°: transpose, then mirror left-right -> sign (-1)^u.
    turn90 = [[coeffs[u][v] * (-1 if u % 2 else 1) for u in range(LOW)] for v in range(LOW)]
    turn180 = [[coeffs[v][u] * sign[v][u] for u in range(LOW)] for v in range(LOW)]
    # 270°: transpose, then mirror top-bottom -> sign (-1)^v.
    turn270 = [[coeffs[u][v] * (-1 if v % 2 else 1) for u in range(LOW)] for v in range(LOW)]
    return PerceptualHash(_bits(coeffs), (_bits(turn90), _bits(turn180), _bits(turn270)))


def _dct_low(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    """The LOW x LOW lowest 2-D DCT-II coefficients ``[v][u]`` (v vertical, u horizontal)."""
    # Along each row first (u), keeping only the low frequencies, then down the columns (v).
    by_row = [
        [sum(c * p for c, p in zip(basis, row, strict=True)) for basis in _COS] for row in rows
    ]
    return [
        [sum(_COS[v][y] * by_row[y][u] for y in range(GRID)) for u in range(LOW)]
        for v in range(LOW)
    ]


def _bits(coeffs: list[list[float]]) -> str:
    flat = [c for row in coeffs for c in row]
    median = sorted(flat)[len(flat) // 2 - 1 : len(flat) // 2 + 1]
    threshold = sum(median) / 2
    value = 0
    for c in flat:
        value = (value << 1) | (c > threshold)
    return f"{value:016x}"


def distance(a: str, b: str) -> int:
    """Hamming distance of two 16-hex-digit hashes (0 = same picture, ~32 = unrelated)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def turned_distance(hashes: Iterable[str], other: str) -> int:
    """Smallest distance from any of one picture's turned hashes to another's upright hash."""
    return min(distance(h, other) for h in hashes)


def nearest(
    hashes: Sequence[str], candidates: Iterable[tuple[int, str]], max_distance: int
) -> tuple[int, int] | None:
    """The candidate ``(id, hash)`` closest to any of ``hashes``, within ``max_distance``.

    Returns ``(id, distance)``; ties go to the lowest id (the earliest photo).
    """
    best: tuple[int, int] | None = None
    for candidate_id, candidate_hash in candidates:
        if len(candidate_hash) != 16:
            continue
        d = turned_distance(hashes, candidate_hash)
        if d <= max_distance and (best is None or (d, candidate_id) < (best[1], best[0])):
            best = (candidate_id, d)
    return best
