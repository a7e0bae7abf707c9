"""The quality gate: a preset's thresholds turned into review reasons people read.

The local provider measures (``providers/local.py``: sharpness, exposure, noise) and the
ingest records the pixel size; a preset says which limits its orders need
(``ProcessingPreset.gate_*``, empty = no check). ``verdict`` compares them and returns one
sentence per limit crossed, e.g. "Blurred: sharpness 12, this preset needs 40". The
pipeline sends an image with any sentence to Needs review (``ReviewReason.QUALITY``)
instead of on to delivery; a reviewer may still approve it as it is.

A measure the analysis did not record (a preset without ``analyze``, another provider's
facts) is not guessed: that check is skipped. No Django imports: plain attributes in, words
out, so the thresholds are tested without a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _fmt(value: float) -> str:
    """12 → "12", 12.5 → "12.5", 0.123 → "0.12" (people read few digits)."""
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2g}" if abs(value) < 1 else f"{value:.1f}".rstrip("0").rstrip(".")


def _fact(facts: Mapping[str, Any], group: str, key: str) -> float | None:
    part = facts.get(group)
    return _number(part.get(key)) if isinstance(part, Mapping) else None


def verdict(preset: Any, facts: Mapping[str, Any] | None, image: Any) -> list[str]:
    """Sentences for every gate of ``preset`` that the image fails ([] = it passes).

    ``facts`` is the analysis the image stored (``ai_metadata["analyze"]["facts"]``, may be
    None); ``image`` gives the original's ``width`` and ``height``.
    """
    facts = facts if isinstance(facts, Mapping) else {}
    reasons: list[str] = []

    limit = _number(getattr(preset, "gate_min_sharpness", None))
    sharpness = _fact(facts, "sharpness", "laplacian_variance")
    if limit is not None and sharpness is not None and sharpness < limit:
        reasons.append(f"Blurred: sharpness {_fmt(sharpness)}, this preset needs {_fmt(limit)}")

    limit = _number(getattr(preset, "gate_max_clipped_shadows", None))
    shadows = _fact(facts, "exposure", "clipped_shadows")
    if limit is not None and shadows is not None and shadows * 100 > limit:
        reasons.append(
            f"Underexposed: {_fmt(shadows * 100)} % of the pixels are clipped shadows, "
            f"this preset allows {_fmt(limit)} %"
        )

    limit = _number(getattr(preset, "gate_max_clipped_highlights", None))
    highlights = _fact(facts, "exposure", "clipped_highlights")
    if limit is not None and highlights is not None and highlights * 100 > limit:
        reasons.append(
            f"Overexposed: {_fmt(highlights * 100)} % of the pixels are clipped highlights, "
            f"this preset allows {_fmt(limit)} %"
        )

    limit = _number(getattr(preset, "gate_max_noise", None))
    noise = _fact(facts, "noise", "sigma")
    if limit is not None and noise is not None and noise > limit:
        reasons.append(f"Noisy: noise {_fmt(noise)}, this preset allows {_fmt(limit)}")

    limit = _number(getattr(preset, "gate_min_short_side", None))
    width, height = _number(getattr(image, "width", None)), _number(getattr(image, "height", None))
    if (width is None or height is None) and facts:
        width, height = _number(facts.get("width")), _number(facts.get("height"))
    if limit is not None and width is not None and height is not None:
        short = min(width, height)
        if short < limit:
            reasons.append(
                f"Too small: {_fmt(width)} x {_fmt(height)} pixels, this preset needs "
                f"{_fmt(limit)} on the short side"
            )
    return reasons
