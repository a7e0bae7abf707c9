"""The PMR step's timeline kinds and how they read (registered in ``orders.timeline``).

The PMR delivery writes its own kinds (``pmr.delivered``, ``pmr.write_failed``, …); their
constants and sentences live here, in the app that writes them, so ``orders`` never imports
this app; the writers (``drain``, ``services``, ``status``) and the notifications that react
to them pass these constants, never a string.
"""

from __future__ import annotations

from typing import Any

from orders import timeline
from orders.timeline import Names, Payload

from . import variants
from .models import OrderDelivery, OutboxEntry

#: Every image of the order is in the PMR: ``{images, files: {variant: count}}``.
DELIVERED_EVENT = "pmr.delivered"
#: The PMR refused a write for good: ``{entry, kind, image, file, error}``.
FAILED_EVENT = "pmr.write_failed"
#: A person skipped a refused write: ``{entry, kind, image, file, reason}``.
SKIPPED_EVENT = "pmr.write_skipped"
#: A person marked the order as uploaded to the PMR by hand: ``{skipped, note}``.
MANUAL_EVENT = "pmr.uploaded_by_hand"
#: The PMR changed its status of the order: ``{from, to, reason, source}``.
STATUS_EVENT = "pmr.status_changed"

#: What an outbox row sends, as a sentence part ("The PMR refused <the order's details>").
WRITES = {
    OutboxEntry.Kind.ORDER_PUT: "the order's details",
    OutboxEntry.Kind.IMAGE_PUT: "an image",
    OutboxEntry.Kind.ORDER_STATUS: "the order's status",
    OutboxEntry.Kind.ORDER_FINISH: "the end of the delivery",
}


def write_label(kind: Any, image_name: str = "", file: Any = None) -> str:
    """ "image IMG_3.jpg", "the edited file of image IMG_3.jpg", "the order's details", …
    for an outbox row's kind (``file``: the upload's payload, naming its variant)."""
    if kind == OutboxEntry.Kind.IMAGE_PUT and image_name:
        which = variants.file_label(file) if isinstance(file, dict) else ""
        return f"{which} of image {image_name}" if which else f"image {image_name}"
    return WRITES.get(kind, "an update")


def pmr_status_label(value: Any) -> str:
    """The PMR's own status of an order as people read it ("On hold"), never its code."""
    labels = dict(OrderDelivery.PmrStatus.choices)
    if value in labels and value:
        return labels[value]
    return str(value or "none").replace("_", " ").capitalize()


def register() -> None:
    """Called from ``PmrConfig.ready``."""

    @timeline.register(DELIVERED_EVENT)
    def _delivered(p: Payload, names: Names) -> str:
        if not isinstance(p.get("images"), int):
            return "Sent to the PMR"
        text = f"Sent to the PMR: {timeline.plural(p['images'], 'image')} delivered"
        files = p.get("files") if isinstance(p.get("files"), dict) else {}
        counts = {k: v for k, v in files.items() if isinstance(v, int)}
        if sum(counts.values()) > counts.get(variants.ORIGINAL, 0):  # more than originals
            text += f" ({variants.describe(counts)})"
        return text

    @timeline.register(FAILED_EVENT, refs={"image": "image"})
    def _write_failed(p: Payload, names: Names) -> str:
        what = write_label(p.get("kind"), names.get("image", p.get("image")), p.get("file"))
        return f"The PMR refused {what}: {timeline.error_text(p.get('error'))}"

    @timeline.register(SKIPPED_EVENT, refs={"image": "image"})
    def _write_skipped(p: Payload, names: Names) -> str:
        what = write_label(p.get("kind"), names.get("image", p.get("image")), p.get("file"))
        return timeline.with_reason(f"Sending {what} to the PMR was skipped", p.get("reason"))

    @timeline.register(MANUAL_EVENT)
    def _by_hand(p: Payload, names: Names) -> str:
        return timeline.with_reason("Marked as uploaded to the PMR by hand", p.get("note"))

    @timeline.register(STATUS_EVENT)
    def _pmr_status(p: Payload, names: Names) -> str:
        to = p.get("to")
        text = (
            f"The PMR set the order to {pmr_status_label(to)}"
            if to
            else "The PMR changed the order's status"
        )
        return timeline.with_reason(text, p.get("reason"))
