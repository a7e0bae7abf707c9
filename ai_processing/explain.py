"""Why an image waits for review or failed, in sentences a person reads on the order page.

Built from the facts the pipeline stores (``duplicate_of``, the provider trail in
``ai_metadata``), not by parsing ``status_reason``: the reason text is for the
timeline, these sentences say it in plain words and name the services.
"""

from __future__ import annotations

from orders.models import Image

#: What a provider's outcome (``providers.base``) means, as the end of a sentence.
OUTCOME_WORDS = {
    "circuit_open": "was paused after repeated failures",
    "unavailable": "could not be reached",
    "rejected": "refused the image",
    "unsupported": "cannot do this",
    "error": "failed with an error",
}
OPERATION_WORDS = {"analyze": "check", "edit": "edit", "caption": "caption"}
PROVIDER_NAMES = {"runware": "Runware", "gemini": "Gemini", "local": "the local fallback"}


def provider_name(name: str) -> str:
    return PROVIDER_NAMES.get(name, str(name).capitalize())


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def review_reason(image: Image) -> str:
    """Why ``image`` waits for a person's decision, as one sentence.

    ``image.duplicate_of`` (and its order) should be loaded with it.
    """
    trail = image.ai_metadata.get("trail") if isinstance(image.ai_metadata, dict) else None
    if image.duplicate_of_id is not None and not trail:
        other = image.duplicate_of
        where = (
            "in this order"
            if other.order_id == image.order_id
            else f"in order {other.order.order_ref}"
        )
        return (
            f"It looks very much like {other.original_filename} {where}; a person decides "
            "whether it is a duplicate."
        )
    for operation, steps in (trail or {}).items():
        if not isinstance(steps, list) or not steps:
            continue
        if any(isinstance(s, dict) and s.get("outcome") in ("ok", "cache") for s in steps):
            continue
        parts = [
            f"{provider_name(s.get('provider', '?'))} "
            f"{OUTCOME_WORDS.get(s.get('outcome'), 'did not do it')}"
            for s in steps
            if isinstance(s, dict)
        ]
        verb = OPERATION_WORDS.get(operation, operation)
        return f"No AI service could {verb} it: {_join(parts)}."
    if image.status_reason:
        return image.status_reason.rstrip(".") + "."
    return "A person needs to look at it."
