"""Allowed output sizes of Runware models (plain data, shared by the client and the simulator)."""

from __future__ import annotations

# google:4@1 (Nano Banana / Gemini 2.5 Flash Image): the only sizes Runware accepts.
GOOGLE_4_1_SIZES: tuple[tuple[int, int], ...] = (
    (1024, 1024),  # 1:1
    (1248, 832),  # 3:2
    (832, 1248),  # 2:3
    (1184, 864),  # 4:3
    (864, 1184),  # 3:4
    (1152, 896),  # 5:4
    (896, 1152),  # 4:5
    (1344, 768),  # 16:9
    (768, 1344),  # 9:16
    (1536, 672),  # 21:9
)

ALLOWED_SIZES: dict[str, tuple[tuple[int, int], ...]] = {"google:4@1": GOOGLE_4_1_SIZES}


def nearest_allowed_size(width: int, height: int, model: str = "google:4@1") -> tuple[int, int]:
    """The allowed size of ``model`` whose aspect ratio is closest to ``width``/``height``."""
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    sizes = ALLOWED_SIZES.get(model, GOOGLE_4_1_SIZES)
    ratio = width / height
    return min(sizes, key=lambda s: abs(s[0] / s[1] - ratio))
