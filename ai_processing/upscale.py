"""Enlarge a generative edit to print resolution: ``enlarge(data, width, height)``.

A generative edit (a new background, a removed object) cannot be transferred onto the
original the way a tonal edit can (the model changed content, not tone), so the model's
answer itself must reach the print size. Nano Banana answers at about 1 MP (``google:4@1``)
or at 2K/4K (``google:4@2`` where ``RUNWARE_EDIT_MODEL_HIRES`` is set); this module takes
that answer the rest of the way:

1. Plan (``plan_step``): the scale still needed is ``need = max(W/w, H/h)`` (cover the
   target). Under ``LANCZOS_ONLY_BELOW`` an AI upscaler adds little: the final resize does
   it. Otherwise the smallest Runware factor (2, 3, 4) that covers ``need``; when that would
   overshoot the target by more than ``MAX_OVERSHOOT`` per side, the image is first shrunk
   (Lanczos) so the upscaler's answer lands just above the target: memory stays bounded
   (about ``MAX_OVERSHOOT``^2 x the target's pixels at most) and no pixels are paid for
   only to be thrown away. Beyond x4, the step repeats (``MAX_STEPS`` at most).
2. Each step is the provider chain's ``upscale`` operation (Runware's ``imageUpscale``;
   when Runware is down, the chain falls back to the local provider's Lanczos resize,
   labelled as such; cached like every other result). Once a step was not AI, no further
   steps are asked for: the final Lanczos resize does the rest in one go (better than
   several). When no provider at all could upscale, the final resize is the fallback.
3. Final: Lanczos-3 resize to cover ``width``x``height``, centre crop to exactly that size
   (libvips, JPEG at ``quality``).

The outcome carries the provider trail of every step and the cost counted by the same rule
as the other operations (a fresh call's price; a cached result costs nothing unless its
call was never charged). See docs/ai.md "Full resolution: generative edits".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import pyvips

from ai_processing.clients.sizes import MAX_UPSCALE_FACTOR, upscale_factor_for
from ai_processing.limits import limited_chain
from ai_processing.providers.base import ImageInput
from ai_processing.providers.chain import NoProviderAvailable

log = logging.getLogger(__name__)

#: Scale factors up to this are left to the final Lanczos resize (no AI call, no cost).
LANCZOS_ONLY_BELOW = 1.25
#: Largest overshoot (per side) of an upscaler's answer over the target before the input is
#: shrunk first.
MAX_OVERSHOOT = 1.25
#: Margin kept above the target when shrinking first, so rounding never falls short.
SHRINK_MARGIN = 1.02
MAX_STEPS = 3
JPEG_QUALITY = 95
#: Labels of how the pixels got their size (for the image's metadata and the review page).
METHOD_AI = "AI upscale (Runware imageUpscale)"
METHOD_LOCAL = "local Lanczos-3 resize (libvips), not AI"
METHOD_RESIZE = "Lanczos-3 resize only (the edit was already near print size)"
METHOD_DOWNSCALE = "Lanczos-3 downscale (the edit was larger than needed)"


class UpscaleError(ValueError):
    """The data is not a decodable image, or the target size is not a size."""


class Chain(Protocol):
    def run(self, operation: str, image: ImageInput, **kwargs: Any) -> tuple[Any, list[dict]]: ...


@dataclass(frozen=True)
class Step:
    """One planned upscale: shrink the input to ``send`` first (or not), then x``factor``."""

    factor: int
    send: tuple[int, int]
    shrunk: bool


@dataclass
class UpscaleOutcome:
    """The enlarged image (exactly ``width``x``height``, JPEG) and how it was made."""

    image_bytes: bytes
    mime_type: str
    width: int
    height: int
    source_size: tuple[int, int]
    #: What each upscale step did: factor, sizes, provider, method, cost.
    steps: list[dict[str, Any]] = field(default_factory=list)
    #: Every chain call's trail entries, in order, each tagged with its ``step``.
    trail: list[dict[str, Any]] = field(default_factory=list)
    #: The chain's trails one by one (the pipeline marks their cache entries charged).
    trails: list[list[dict[str, Any]]] = field(default_factory=list)
    cost: Decimal = Decimal(0)
    #: One of the METHOD_* labels: how most of the enlargement was done.
    method: str = METHOD_RESIZE
    #: Share of the covering resize cut away by the crop to the target's aspect (0..1).
    cropped: float = 0.0

    @property
    def data(self) -> bytes:
        """The enlarged JPEG (the name the full-resolution step's placeholder used)."""
        return self.image_bytes

    @property
    def cache_keys(self) -> list[str]:
        """Cache entries of the results used: mark them charged once the image commits
        (``services._mark_charged_after_commit(outcome.trails)`` does exactly that)."""
        return [
            t[-1]["cache_key"]
            for t in self.trails
            if t and t[-1].get("cache_key") and t[-1]["outcome"] in ("ok", "cache")
        ]

    @property
    def ai_upscaled(self) -> bool:
        return self.method == METHOD_AI

    def to_metadata(self) -> dict[str, Any]:
        """JSON for ``Image.ai_metadata``: no bytes, everything a reviewer may ask."""
        return {
            "method": self.method,
            "ai_upscaled": self.ai_upscaled,
            "source_size": list(self.source_size),
            "size": [self.width, self.height],
            "steps": self.steps,
            "trail": self.trail,
            "cost": str(self.cost),
            "cropped": round(self.cropped, 4),
        }


def plan_step(current: tuple[int, int], target: tuple[int, int]) -> Step | None:
    """The next upscale from ``current`` towards ``target``, or None when the final resize
    alone should finish (already large enough, or within ``LANCZOS_ONLY_BELOW``)."""
    need = max(target[0] / current[0], target[1] / current[1])
    if need <= LANCZOS_ONLY_BELOW:
        return None
    factor = upscale_factor_for(current, target)
    if need >= factor or factor / need <= MAX_OVERSHOOT:
        return Step(factor, current, shrunk=False)
    # x factor would overshoot by more than MAX_OVERSHOOT: shrink so it lands just above.
    scale = need * SHRINK_MARGIN / factor
    send = (max(1, round(current[0] * scale)), max(1, round(current[1] * scale)))
    return Step(factor, send, shrunk=True)


def generative_size(
    original: tuple[int, int], answer: tuple[int, int], framing: str = "centre crop"
) -> tuple[int, int]:
    """The size a generative answer is enlarged to: never fewer pixels than the original.

    An original is never replaced by something smaller (issue 16). A model asked for another
    aspect (a 4:5 portrait of a 3:2 landscape) shows only part of the original; enlarging the
    answer to that part at the original's density (``Plan.target_size``: 3200x4000 of a
    6000x4000 original, 12.8 MP for 24 MP) would deliver fewer pixels than the studio sent.
    So the answer keeps its own aspect (it is what the model made; stretching or cropping it
    back to the original's would distort or cut the edit) and is scaled until **both** its
    pixel count and its long side are at least the original's: 4800x6000 for that example.
    The pixel count keeps the file's weight; the long side keeps the largest print it can
    make on its long edge (a 16-inch side at 300 DPI stays possible), which the count alone
    would not (5477 px for 24 MP at 4:5). A "squeezed" reading (the whole picture in another
    frame) and an answer of the original's aspect go back to the original's size exactly.
    """
    big_w, big_h = original
    w, h = answer
    if framing != "centre crop" or w <= 0 or h <= 0:
        return original
    scale = max(max(big_w, big_h) / max(w, h), ((big_w * big_h) / (w * h)) ** 0.5)
    width, height = max(1, round(w * scale)), max(1, round(h * scale))
    while width * height < big_w * big_h or max(width, height) < max(big_w, big_h):
        width, height = width + (w >= h), height + (h > w)  # rounding: a pixel more
    return width, height


def enlarge(
    data: bytes,
    width: int,
    height: int,
    *,
    chain: Chain | None = None,
    quality: int = JPEG_QUALITY,
    fresh: bool = False,
) -> UpscaleOutcome:
    """``data`` enlarged (or reduced) to exactly ``width``x``height``: AI upscale steps
    through the provider chain, then one Lanczos resize to cover and a centre crop.

    ``chain`` defaults to the settings' chain with its provider slots (as the pipeline's);
    ``fresh`` skips cached upscale results (a person asked for new work).
    """
    if width <= 0 or height <= 0:
        raise UpscaleError(f"target size must be positive, not {width}x{height}")
    source = _load(data)
    source_size = (source.width, source.height)
    target = (width, height)
    outcome = UpscaleOutcome(b"", "image/jpeg", width, height, source_size)
    current_bytes, current = data, source
    methods: list[str] = []
    for number in range(1, MAX_STEPS + 1):
        step = plan_step((current.width, current.height), target)
        if step is None:
            break
        if chain is None:
            chain = limited_chain()
        send_bytes = current_bytes
        if step.shrunk:
            shrunk = _resize_to(current, step.send)
            send_bytes = shrunk.jpegsave_buffer(Q=JPEG_QUALITY, keep="none")
        try:
            result, trail = chain.run(
                "upscale", ImageInput.from_bytes(send_bytes), factor=step.factor, fresh=fresh
            )
        except NoProviderAvailable as exc:
            outcome.trails.append(exc.trail)
            outcome.trail.extend({**t, "step": number} for t in exc.trail)
            outcome.steps.append(
                {
                    "step": number,
                    "factor": step.factor,
                    "provider": None,
                    "method": METHOD_LOCAL,
                    "note": "no provider could upscale; the final resize does it",
                }
            )
            methods.append(METHOD_LOCAL)
            break
        paid = _paid(result, trail)
        outcome.cost += paid
        outcome.trails.append(trail)
        outcome.trail.extend({**t, "step": number} for t in trail)
        enlarged = _load(result.image_bytes)
        is_ai = (result.details or {}).get("method", "").startswith("Runware")
        outcome.steps.append(
            {
                "step": number,
                "factor": step.factor,
                "from": [current.width, current.height],
                "sent": list(step.send),
                "shrunk_first": step.shrunk,
                "to": [enlarged.width, enlarged.height],
                "provider": trail[-1]["provider"] if trail else None,
                "model": result.model,
                "method": METHOD_AI if is_ai else METHOD_LOCAL,
                "cost": str(paid),
            }
        )
        methods.append(METHOD_AI if is_ai else METHOD_LOCAL)
        current_bytes, current = result.image_bytes, enlarged
        if not is_ai:
            break  # a local resize: one final Lanczos does the rest better than several
    if METHOD_LOCAL in methods:
        outcome.method = METHOD_LOCAL  # any part not AI: say so, never pass it off as AI
    elif methods:
        outcome.method = METHOD_AI
    elif max(width / source.width, height / source.height) < 1:
        outcome.method = METHOD_DOWNSCALE
    final, outcome.cropped = _cover_and_crop(current, target)
    outcome.image_bytes = final.jpegsave_buffer(Q=quality, keep="none", optimize_coding=True)
    log.info(
        "enlarged %sx%s to %sx%s (%s, %d step(s), $%s)",
        *(*source_size, width, height),
        outcome.method,
        len(outcome.steps),
        outcome.cost,
    )
    return outcome


# --- pixels ---------------------------------------------------------------------------


def _load(data: bytes) -> pyvips.Image:
    """Upright 8-bit sRGB pixels (alpha flattened on white: prints have no transparency)."""
    try:
        image = pyvips.Image.new_from_buffer(data, "").autorot()
        if image.hasalpha():
            image = image.flatten(background=[255, 255, 255])
        if image.interpretation not in ("srgb", "b-w"):
            image = image.colourspace("srgb")
        if image.format != "uchar":
            image = image.cast("uchar")
        if image.bands == 1:
            image = image.colourspace("srgb")
        return image
    except pyvips.Error as exc:
        raise UpscaleError(f"not a decodable image: {exc.message}") from exc


def _resize_to(image: pyvips.Image, size: tuple[int, int]) -> pyvips.Image:
    """``image`` resampled (Lanczos-3) to exactly ``size``."""
    resized = image.resize(size[0] / image.width, vscale=size[1] / image.height, kernel="lanczos3")
    if (resized.width, resized.height) != size:  # rounding: a pixel either way
        resized = resized.embed(0, 0, size[0], size[1], extend="copy")
    return resized


def _cover_and_crop(image: pyvips.Image, target: tuple[int, int]) -> tuple[pyvips.Image, float]:
    """Scaled (one factor for both sides) to cover ``target``, then centre-cropped to it."""
    scale = max(target[0] / image.width, target[1] / image.height)
    cover = (
        max(target[0], round(image.width * scale)),
        max(target[1], round(image.height * scale)),
    )
    resized = _resize_to(image, cover)
    left, top = (cover[0] - target[0]) // 2, (cover[1] - target[1]) // 2
    cropped = 1 - (target[0] * target[1]) / (cover[0] * cover[1])
    return resized.crop(left, top, target[0], target[1]), cropped


# --- chain and costs --------------------------------------------------------------------


def _paid(result: Any, trail: list[dict[str, Any]]) -> Decimal:
    """A fresh call's price; a cached result is free unless its call was never charged
    (the same rule as the pipeline's other operations, docs/ai.md "Costs")."""
    if result is None or not trail:
        return Decimal(0)
    last = trail[-1]
    if last["outcome"] == "ok" or (last["outcome"] == "cache" and last.get("charged") is False):
        return Decimal(str(round(float(result.cost or 0), 6)))
    return Decimal(0)


__all__ = [
    "MAX_UPSCALE_FACTOR",
    "UpscaleError",
    "UpscaleOutcome",
    "enlarge",
    "generative_size",
    "plan_step",
]
