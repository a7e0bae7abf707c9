"""Allowed output sizes of Runware models and upscale factors (plain data, shared by the
client, the providers and the simulator). Sources: docs/ai.md "Full resolution: generative
edits" (Runware's model pages and Google's image-generation docs)."""

from __future__ import annotations

import math

# google:4@1 (Nano Banana / Gemini 2.5 Flash Image): the only sizes Runware accepts (~1 MP).
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

# google:4@2 (Nano Banana Pro / Gemini 3 Pro Image) on Runware, by resolution tier, exactly as
# runware.ai/docs/models/google-nano-banana-pro lists them (its 1K 21:9 is 1548x672, where
# Google's own table says 1584x672; its 4K 3:2 and 2:3 list two sizes each).
GOOGLE_4_2_TIERS: dict[str, tuple[tuple[int, int], ...]] = {
    "1K": (
        (1024, 1024),  # 1:1
        (1264, 848),  # 3:2
        (848, 1264),  # 2:3
        (1200, 896),  # 4:3
        (896, 1200),  # 3:4
        (928, 1152),  # 4:5
        (1152, 928),  # 5:4
        (768, 1376),  # 9:16
        (1376, 768),  # 16:9
        (1548, 672),  # 21:9
    ),
    "2K": (
        (2048, 2048),
        (2528, 1696),
        (1696, 2528),
        (2400, 1792),
        (1792, 2400),
        (1856, 2304),
        (2304, 1856),
        (1536, 2752),
        (2752, 1536),
        (3168, 1344),
    ),
    "4K": (
        (4096, 4096),
        (5096, 3392),
        (5056, 3392),
        (3392, 5096),
        (3392, 5056),
        (4800, 3584),
        (3584, 4800),
        (3712, 4608),
        (4608, 3712),
        (3072, 5504),
        (5504, 3072),
        (6336, 2688),
    ),
}
GOOGLE_4_2_SIZES: tuple[tuple[int, int], ...] = tuple(
    size for tier in GOOGLE_4_2_TIERS.values() for size in tier
)

# google:4@3 (Nano Banana 2 / Gemini 3.1 Flash Image): Runware's page
# (runware.ai/docs/models/google-nano-banana-2) lists the 0.5K rows below; its 1K/2K/4K rows
# are taken from Google's Gemini 3.1 Flash Image table (ai.google.dev image-generation), whose
# 512 px rows are exactly Runware's 0.5K ones. Order per tier: 1:1, 3:2, 2:3, 4:3, 3:4, 4:5,
# 5:4, 9:16, 16:9, 21:9, 4:1, 1:4, 8:1, 1:8.
GOOGLE_4_3_TIERS: dict[str, tuple[tuple[int, int], ...]] = {
    "0.5K": (
        (512, 512), (632, 424), (424, 632), (600, 448), (448, 600), (464, 576), (576, 464),
        (384, 688), (688, 384), (792, 168), (1024, 256), (256, 1024), (1536, 192), (192, 1536),
    ),
    "1K": (
        (1024, 1024), (1264, 848), (848, 1264), (1200, 896), (896, 1200), (928, 1152),
        (1152, 928), (768, 1376), (1376, 768), (1584, 672), (2048, 512), (512, 2048),
        (3072, 384), (384, 3072),
    ),
    "2K": (
        (2048, 2048), (2528, 1696), (1696, 2528), (2400, 1792), (1792, 2400), (1856, 2304),
        (2304, 1856), (1536, 2752), (2752, 1536), (3168, 1344), (4096, 1024), (1024, 4096),
        (6144, 768), (768, 6144),
    ),
    "4K": (
        (4096, 4096), (5056, 3392), (3392, 5056), (4800, 3584), (3584, 4800), (3712, 4608),
        (4608, 3712), (3072, 5504), (5504, 3072), (6336, 2688), (8192, 2048), (2048, 8192),
        (12288, 1536), (1536, 12288),
    ),
}  # fmt: skip
GOOGLE_4_3_SIZES: tuple[tuple[int, int], ...] = tuple(
    size for tier in GOOGLE_4_3_TIERS.values() for size in tier
)

ALLOWED_SIZES: dict[str, tuple[tuple[int, int], ...]] = {
    "google:4@1": GOOGLE_4_1_SIZES,
    "google:4@2": GOOGLE_4_2_SIZES,
    "google:4@3": GOOGLE_4_3_SIZES,
}
#: Models that take ``resolution`` (their tiers: "1K", "2K", "4K"; google:4@3 also "0.5K")
#: instead of width/height.
RESOLUTION_TIERS: dict[str, dict[str, tuple[tuple[int, int], ...]]] = {
    "google:4@2": GOOGLE_4_2_TIERS,
    "google:4@3": GOOGLE_4_3_TIERS,
}
#: USD per image, by model and tier (runware.ai model pages; includeCost returns the real one).
INFERENCE_PRICES: dict[str, dict[str, float]] = {
    "google:4@1": {"1K": 0.039},
    "google:4@2": {"1K": 0.138, "2K": 0.138, "4K": 0.244},
    "google:4@3": {"0.5K": 0.04657, "1K": 0.06895, "2K": 0.10255, "4K": 0.15295},
}

#: ``imageUpscale``'s ``upscaleFactor``: an integer, 2, 3 or 4 (runware.ai/docs image-editing/
#: upscaling; sdk-python docs/editing.md).
UPSCALE_FACTORS: tuple[int, ...] = (2, 3, 4)
MIN_UPSCALE_FACTOR, MAX_UPSCALE_FACTOR = UPSCALE_FACTORS[0], UPSCALE_FACTORS[-1]


def nearest_allowed_size(
    width: int, height: int, model: str = "google:4@1", *, tier: str | None = None
) -> tuple[int, int]:
    """The allowed size of ``model`` whose aspect ratio is closest to ``width``/``height``.

    ``tier`` ("1K", "2K", "4K") picks among a tiered model's sizes; without it a tiered model
    answers from its 1K table (the same pixel budget as google:4@1).
    """
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    tiers = RESOLUTION_TIERS.get(model)
    if tiers is not None:
        sizes = tiers.get((tier or "1K").upper())
        if sizes is None:
            raise ValueError(f"{model} has no {tier!r} sizes; choose one of {', '.join(tiers)}")
    else:
        sizes = ALLOWED_SIZES.get(model, GOOGLE_4_1_SIZES)
    ratio = width / height
    return min(sizes, key=lambda s: (abs(s[0] / s[1] - ratio), -s[0] * s[1]))


def tier_of(model: str, width: int, height: int) -> str:
    """The resolution tier of an allowed size ("1K" for untiered models and unknown sizes)."""
    for tier, sizes in RESOLUTION_TIERS.get(model, {}).items():
        if (width, height) in sizes:
            return tier
    return "1K"


def upscale_factor_for(source: tuple[int, int], target: tuple[int, int]) -> int:
    """The smallest Runware upscale factor that takes ``source`` to at least ``target`` on
    both sides, or the largest (4) when even that falls short (repeat the upscale then)."""
    need = max(target[0] / source[0], target[1] / source[1])
    for factor in UPSCALE_FACTORS:
        if factor >= need:
            return factor
    return MAX_UPSCALE_FACTOR


def upscale_steps(source: tuple[int, int], target: tuple[int, int]) -> int:
    """How many x4 upscales at most it takes to cover ``target`` (0 when it already does)."""
    need = max(target[0] / source[0], target[1] / source[1])
    return 0 if need <= 1 else max(1, math.ceil(math.log(need, MAX_UPSCALE_FACTOR) - 1e-9))
