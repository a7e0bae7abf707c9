"""What the order page's PMR box says: one function for the page and the live state.

``delivery_box(order)`` turns where the order's delivery stands (``services.delivery_summary``)
into the box's sentence, its tone and the PMR's own status. The template tag renders it when
the page is built, and the same dict travels in every live order state (registered with
``orders.live.register_state_part`` from ``PmrConfig.ready``), so the page re-draws the box
from the live state (static/js/pmr_box.js) and never says "Nothing sent yet" about an order
the PMR already has.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.formats import date_format

from orders.models import Order
from orders.timeline import error_text, plural

from . import services, variants
from .timeline import pmr_status_label

#: ``Order`` fields the box reads (loaded with the live reads' order row).
ORDER_FIELDS = ("pmr_synced",)


def _delivered(pmr: dict[str, Any]) -> str:
    """How far the upload is, in images when each image is one file, else in files, with
    what arrived ("3 of 6 files of 3 images delivered: 3 originals.")."""
    done, total = pmr["images_done"], pmr["images_total"]
    files_done, files_total = pmr["files_done"], pmr["files_total"]
    if files_total <= total:
        return f"{done} of {plural(total, 'image')} delivered."
    what = variants.describe(pmr["files_done_by_variant"])
    return (
        f"{files_done} of {plural(files_total, 'file')} of {plural(total, 'image')} delivered"
        + (f": {what}." if what else ".")
    )


def delivery_box(order: Order) -> dict[str, Any]:
    """The box's content: ``text`` (a sentence), ``tone`` (success, info, warning, error or
    muted: the note's style), the PMR's status (``status``, ``status_label``,
    ``status_reason``) and ``has_images`` (whether a ZIP export has anything to hold).
    Two queries (``services.delivery_summary``)."""
    pmr = services.delivery_summary(order)
    done, total = pmr["images_done"], pmr["images_total"]
    if pmr["uploaded_by_hand"]:
        state, tone, text = "by_hand", "success", "Uploaded to the PMR by hand."
    elif pmr["synced"]:
        state, tone = "delivered", "success"
        text = f"Delivered: {plural(done, 'image')} in the PMR"
        if pmr["files_done"] > done:  # more than one file per image: say which
            text += f" ({variants.describe(pmr['files_done_by_variant'])})"
        text += "."
    elif pmr["waiting_for_pmr"]:
        since = date_format(timezone.localtime(pmr["waiting_since"]), "DATETIME_FORMAT")
        state, tone = "waiting", "warning"
        text = (
            f"Waiting for PMR since {since} — the PMR cannot be reached; uploads resume by "
            f"themselves. {_delivered(pmr)}"
        )
    elif pmr["rows"].get("failed"):
        state, tone = "refused", "error"
        text = (
            f"The PMR refused a write: {error_text(pmr['last_error'])}. A manager can retry or "
            "skip it in the back office."
        )
    elif total:
        state, tone, text = "uploading", "info", f"Uploading: {_delivered(pmr)}"
    elif order.status == Order.Status.CANCELLED:
        state, tone, text = "none", "muted", "Nothing was sent to the PMR: the order is cancelled."
    elif order.status == Order.Status.NEEDS_REVIEW:
        state, tone = "not_started", "muted"
        text = "Nothing sent yet: the images go to the PMR once every image in review is answered."
    elif order.status == Order.Status.AWAITING_APPROVAL:
        state, tone = "not_started", "muted"
        text = "Nothing sent yet: the images go to the PMR once they are approved."
    else:
        state, tone = "not_started", "muted"
        text = "Nothing sent yet: images go to the PMR when their AI processing is done."
    status = pmr["pmr_status"]
    return {
        "state": state,
        "tone": tone,
        "text": text,
        "status": status,
        "status_label": pmr_status_label(status) if status else "",
        "status_reason": pmr["pmr_status_reason"] if status else "",
        "has_images": bool(total),
    }
