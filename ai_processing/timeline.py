"""The AI step's timeline kinds and how they read (registered in ``orders.timeline``).

The AI pipeline writes three kinds of its own (``ai_processing.services``): the order's AI
work finished, an image replaced by a hand-edited file, the order's preset changed. Their
constants and sentences live here, in the app that writes them, so ``orders`` never imports
this app; the writers pass these constants to ``record_event``.
"""

from __future__ import annotations

from typing import Any

from orders import timeline
from orders.timeline import Names, Payload

from .models import ProcessingPreset

#: The order's AI work is finished: ``{images: {status: count}, ai_cost}``.
AI_COMPLETED = "order.ai_completed"
#: A person replaced an image's processed file: ``{image, filename}``.
HAND_EDITED = "image.hand_edited"
#: The order's processing preset changed: ``{from, to}`` (preset slugs).
PRESET_CHANGED = "order.preset_changed"

#: Image statuses in the order a summary lists them.
_SUMMARY = ("processed", "needs_review", "rejected", "failed")


def _summary(counts: Any) -> str:
    """ "12 processed, 1 needs review" from ``{"processed": 12, "needs_review": 1}``."""
    if not isinstance(counts, dict):
        return ""
    parts = []
    for status in _SUMMARY:
        n = counts.get(status)
        if isinstance(n, int) and n > 0:
            move = timeline.IMAGE_MOVES.get(status, status.replace("_", " "))
            parts.append(f"{n} {'need review' if status == 'needs_review' and n > 1 else move}")
    return ", ".join(parts)


def register() -> None:
    """Called from ``AiProcessingConfig.ready``."""

    @timeline.register(AI_COMPLETED)
    def _ai_completed(p: Payload, names: Names) -> str:
        return timeline.with_reason("AI processing finished", _summary(p.get("images")))

    @timeline.register(HAND_EDITED, refs={"image": "image"})
    def _hand_edited(p: Payload, names: Names) -> str:
        return f"{timeline.image_name(p, names)} replaced by a hand-edited file"

    @timeline.register(PRESET_CHANGED, refs={"to": "preset", "from": "preset"})
    def _preset_changed(p: Payload, names: Names) -> str:
        slug = str(p.get("to") or "")
        # A preset deleted since: its slug, as words.
        to = names.get("preset", p.get("to"), slug.replace("_", " ").replace("-", " "))
        return f"Processing preset changed to {to}" if to else "Processing preset changed"

    def presets(slugs: set[Any]) -> dict[Any, str]:
        slugs = {s for s in slugs if isinstance(s, str)}
        return dict(ProcessingPreset.objects.filter(slug__in=slugs).values_list("slug", "name"))

    timeline.register_lookup("preset", presets)
