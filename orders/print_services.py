"""Every write about prints: what was ordered (per order, per image) and the crops.

Pages, API and admin call these; each checks the one access rule
(``utilities.access``: editing prints is editing the order, ``Action.CHANGE``),
refuses with a sentence (``OrderError``) what makes no sense now, writes under
the order's lock, and says what changed in the timeline. The print lines and
manual crops are audited by django-auditlog (``orders.models``); automatic
placements are derived data and written without an audit entry.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from utilities import access
from utilities.errors import OrderError

from . import crops, prints
from .models import Image, ImagePrint, Order, OrderEvent, OrderPrint, PrintCrop, PrintSize
from .services import access_check, change_image_status, record_event

log = logging.getLogger(__name__)


class InvalidPrintInput(OrderError):
    """The lines or the crop box sent are wrong in themselves (the API answers 400, not 409)."""


#: Most copies of one size on one line.
MAX_QUANTITY = 999
#: Crop fractions closer than this to the stored ones are no change.
SAME = 1e-4


def prints_refused_because(order: Order) -> str:
    """Why what was ordered can no longer change, as a sentence; "" when it can.

    Once the order is handed to the PMR delivery its files are being rendered
    and sent: a size added then would never be made.
    """
    if order.is_closed:
        return (
            f"Order {order.order_ref} is {order.get_status_display().lower()}; "
            "its prints can no longer change."
        )
    if order.ai_processed:
        return (
            f"Order {order.order_ref} has been handed to the PMR delivery; "
            "its prints can no longer change."
        )
    return ""


def _clean_lines(
    lines: Iterable[Mapping[str, Any]], *, keep: Iterable[int] = ()
) -> list[tuple[PrintSize, int]]:
    """``[{"size": code, "quantity": n}]`` checked: known sizes, each once, 1–999 copies.

    An inactive size is refused unless the lines already had it (``keep``).
    """
    keep = set(keep)
    wanted: dict[str, int] = {}
    for line in lines:
        code = line.get("size")
        quantity = line.get("quantity", 1)
        if not isinstance(code, str) or not code.strip():
            raise InvalidPrintInput("Each print line needs a size.")
        code = code.strip()[:40]
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidPrintInput(f"The quantity of {code} must be a whole number.")
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidPrintInput(f"The quantity of {code} must be between 1 and {MAX_QUANTITY}.")
        if code in wanted:
            raise InvalidPrintInput(f"The size {code} is listed twice.")
        wanted[code] = quantity
    sizes = {s.code: s for s in PrintSize.objects.filter(code__in=list(wanted))}
    unknown = sorted(set(wanted) - set(sizes))
    if unknown:
        raise InvalidPrintInput(f"Unknown print size: {', '.join(unknown)}.")
    retired = sorted(c for c, s in sizes.items() if not s.active and s.pk not in keep)
    if retired:
        raise InvalidPrintInput(f"The print size {', '.join(retired)} is no longer offered.")
    ordered = sorted(wanted, key=lambda c: (sizes[c].position, c))
    return [(sizes[code], wanted[code]) for code in ordered]


def _payload(lines: list[tuple[PrintSize, int]]) -> list[dict[str, Any]]:
    return [{"size": s.code, "label": s.label, "quantity": q} for s, q in lines]


def _same(existing: Iterable[Any], lines: list[tuple[PrintSize, int]]) -> bool:
    return sorted((e.size_id, e.quantity) for e in existing) == sorted((s.pk, q) for s, q in lines)


def _replace(model, owner: dict[str, Any], existing, lines) -> None:
    """Delete, change and add lines one by one (``save``/``delete``: each one audited)."""
    by_size = {e.size_id: e for e in existing}
    for size, quantity in lines:
        line = by_size.pop(size.pk, None)
        if line is None:
            model.objects.create(size=size, quantity=quantity, **owner)
        elif line.quantity != quantity:
            line.quantity = quantity
            line.save(update_fields=["quantity"])
    for line in by_size.values():
        line.delete()


@transaction.atomic
def set_order_prints(
    order: Order, lines: Iterable[Mapping[str, Any]], *, actor: Any
) -> list[OrderPrint]:
    """Replace what the order's customer bought with ``lines`` (``[]``: nothing printed)."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    access_check(actor, access.Action.CHANGE, locked)
    refused = prints_refused_because(locked)
    if refused:
        raise OrderError(refused)
    existing = list(OrderPrint.objects.filter(order=locked).select_related("size"))
    cleaned = _clean_lines(lines, keep=[e.size_id for e in existing])
    if not _same(existing, cleaned):
        _replace(OrderPrint, {"order": locked}, existing, cleaned)
        record_event(locked, OrderEvent.Kind.ORDER_PRINTS, {"lines": _payload(cleaned)}, actor)
        recheck_print_reviews(locked)
    return list(OrderPrint.objects.filter(order=locked).select_related("size"))


@transaction.atomic
def set_image_prints(
    image: Image, lines: Iterable[Mapping[str, Any]], *, actor: Any
) -> list[ImagePrint]:
    """Give the image its own print lines (``[]``: it takes its order's again)."""
    order = Order.objects.select_for_update().get(pk=image.order_id)
    access_check(actor, access.Action.CHANGE, order)
    refused = prints_refused_because(order)
    if refused:
        raise OrderError(refused)
    locked = Image.objects.select_for_update().get(pk=image.pk)
    if locked.status in (Image.Status.REJECTED, Image.Status.SYNCED):
        raise OrderError(
            f"{locked.original_filename} is {locked.get_status_display().lower()}; "
            "its prints can no longer change."
        )
    existing = list(ImagePrint.objects.filter(image=locked).select_related("size"))
    cleaned = _clean_lines(lines, keep=[e.size_id for e in existing])
    if not _same(existing, cleaned):
        _replace(ImagePrint, {"image": locked}, existing, cleaned)
        record_event(
            order,
            OrderEvent.Kind.IMAGE_PRINTS,
            {"image": locked.pk, "lines": _payload(cleaned)},
            actor,
        )
        recheck_print_reviews(order, image_ids=[locked.pk])
    return list(ImagePrint.objects.filter(image=locked).select_related("size"))


#: The reason an image leaves review by itself when its prints changed and it now meets them.
MEETS_PRINTS_NOW = "meets its print sizes now that the prints ordered changed"


def recheck_print_reviews(order: Order, image_ids: Iterable[int] | None = None) -> int:
    """Check again the images waiting in review *for their print size* after the print lines
    changed; how many left review. Caller holds the order's lock.

    Without it, an image in review kept the sentence of the lines it was checked against
    (issue 16): a size no longer ordered still showed as short, a new one did not. Now the
    sentence is the one of the lines as they are; an image that meets them all leaves review
    (processed, as the AI step left it) and the order moves on as after any answered review
    (``pipeline.ai_settled``: the hold, the check before hand-off, the delivery). An image
    whose crops cannot be worked out now keeps its review (a person looks anyway).
    """
    from . import pipeline  # the pipeline imports the services this module builds on

    waiting = Image.objects.filter(
        order_id=order.pk,
        status=Image.Status.NEEDS_REVIEW,
        review_reason=Image.ReviewReason.PRINT_SIZE,
    ).select_related("order")
    if image_ids is not None:
        waiting = waiting.filter(pk__in=list(image_ids))
    left = 0
    for image in waiting.order_by("pk"):
        try:
            short = prints.print_shortfall(image)
        except Exception:  # an unreadable file: it stays in review with its sentence
            log.warning("Prints of image %s not checked again", image.pk, exc_info=True)
            continue
        if not short:
            change_image_status(image, Image.Status.PROCESSED, reason=MEETS_PRINTS_NOW)
            left += 1
        elif short != image.status_reason:
            Image.objects.filter(pk=image.pk).update(status_reason=short)
    if left:
        pipeline.ai_settled(order)
    return left


# --- crops --------------------------------------------------------------------------------


def ensure_crops(
    image: Image, sizes: list[PrintSize], picture: tuple[int, int]
) -> dict[int, PrintCrop]:
    """The image's crop for each of ``sizes``, placing the missing ones; ``{size id: crop}``.

    Automatic crops follow their placement: one made before the analysis found
    the faces, or on a file of other proportions, is placed again. A manual crop
    is a person's decision and is not moved here, unless the file it was drawn on
    was replaced by one of another shape (a generative edit of another aspect, a
    hand edit, a redo): its fractions then frame something else on the new file, so
    it goes back to the automatic placement (``_drawn_on_this_shape``; logged).
    """
    width, height = picture
    stored = {c.size_id: c for c in PrintCrop.objects.filter(image_id=image.pk, size__in=sizes)}
    missing = []
    replaced = False
    for size in sizes:
        rect, basis = prints.auto_crop(image, size, width, height)
        crop = stored.get(size.pk)
        if crop is None:
            missing.append(PrintCrop(image_id=image.pk, size=size, basis=basis, **rect.as_dict()))
        elif crop.manual and not _drawn_on_this_shape(crop, size, width, height):
            log.info("Manual %s crop of image %s was drawn on another shape", size.code, image.pk)
            PrintCrop.objects.filter(pk=crop.pk).update(basis=basis, **rect.as_dict())
            replaced = True
        elif not crop.manual and (crop.basis != basis or _moved(crop, rect)):
            PrintCrop.objects.filter(pk=crop.pk).exclude(basis=PrintCrop.Basis.MANUAL).update(
                basis=basis, **rect.as_dict()
            )
    if missing:
        PrintCrop.objects.bulk_create(missing, ignore_conflicts=True)  # a concurrent reader's
    if (
        replaced
        or missing
        or len(stored) < len(sizes)
        or any(not c.manual for c in stored.values())
    ):
        stored = {c.size_id: c for c in PrintCrop.objects.filter(image_id=image.pk, size__in=sizes)}
    return stored


#: How far (relative) a manual crop's aspect on the current file may be from its print's
#: before it counts as drawn on a file of another shape (rounding of fractions: far less).
SHAPE_TOLERANCE = 0.02


def _drawn_on_this_shape(crop: PrintCrop, size: PrintSize, width: int, height: int) -> bool:
    """Does the manual crop have its print's aspect on a ``width`` x ``height`` file?
    ``save_crop`` stores it to the exact aspect of the file it was drawn on, so it does
    unless that file was replaced by one of other proportions."""
    inches = prints.aspect_for(size, width, height)
    if crop.height <= 0 or height <= 0:
        return False
    on_file = (crop.width * width) / (crop.height * height)
    return abs(on_file / (inches[0] / inches[1]) - 1) <= SHAPE_TOLERANCE


def _moved(crop: PrintCrop, rect: crops.Rect) -> bool:
    return any(
        abs(a - b) > SAME
        for a, b in zip(
            (crop.x, crop.y, crop.width, crop.height),
            (rect.x, rect.y, rect.width, rect.height),
            strict=True,
        )
    )


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidPrintInput(f"The crop's {name} must be a number between 0 and 1.")
    try:
        number = float(value)
    except ValueError:
        raise InvalidPrintInput(f"The crop's {name} must be a number between 0 and 1.") from None
    if not math.isfinite(number) or not -0.01 <= number <= 1.01:
        raise InvalidPrintInput(f"The crop's {name} must be a number between 0 and 1.")
    return number


def _crop_target(image: Image, size_code: str, actor: Any) -> tuple[Order, Image, PrintSize]:
    """Lock order then image, check access and that the size is one the image is printed at."""
    order = Order.objects.select_for_update().get(pk=image.order_id)
    access_check(actor, access.Action.CHANGE, order)
    refused = prints_refused_because(order)
    if refused:
        raise OrderError(refused.replace("its prints", "its crops"))
    locked = Image.objects.select_for_update().select_related("order").get(pk=image.pk)
    size = next((s for s in prints.ordered_sizes(locked) if s.code == size_code), None)
    if size is None:
        raise OrderError(f"{locked.original_filename} is not printed at {size_code[:40]}.")
    return order, locked, size


@transaction.atomic
def save_crop(image: Image, size_code: str, box: Mapping[str, Any], *, actor: Any) -> PrintCrop:
    """A person places the crop of ``size_code``: ``box`` has x, y, width, height (fractions).

    The box is made to the size's exact aspect ratio (its width is kept, its height
    follows, around the same centre) and moved inside the picture, so a client
    cannot store a stretched or outlying crop.
    """
    order, locked, size = _crop_target(image, size_code, actor)
    x, y = _number(box.get("x"), "x"), _number(box.get("y"), "y")
    width, height = _number(box.get("width"), "width"), _number(box.get("height"), "height")
    if width <= 0.01 or height <= 0.01:
        raise InvalidPrintInput("The crop is too small: at least a hundredth of the picture.")
    picture_w, picture_h = prints.source_size(locked)
    inches = prints.aspect_for(size, picture_w, picture_h)
    # Fractions of a picture that is not square: the aspect in fractions is the print's
    # aspect divided by the picture's.
    fraction_aspect = (inches[0] / inches[1]) / (picture_w / picture_h)
    centre_x, centre_y = x + width / 2, y + height / 2
    height = width / fraction_aspect
    if height > 1:
        height, width = 1.0, fraction_aspect
    if width > 1:
        width, height = 1.0, 1 / fraction_aspect
    rect = crops.clamp(crops.Rect(centre_x - width / 2, centre_y - height / 2, width, height))
    crop = PrintCrop.objects.filter(image=locked, size=size).first() or PrintCrop(
        image=locked, size=size
    )
    for name, value in rect.as_dict().items():
        setattr(crop, name, value)
    crop.basis = PrintCrop.Basis.MANUAL
    crop.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    crop.save()
    fact = next(f for f in prints.crop_facts(locked) if f.size.pk == size.pk)
    record_event(
        order,
        OrderEvent.Kind.IMAGE_CROP,
        {
            "image": locked.pk,
            "size": size.code,
            "label": size.label,
            "basis": crop.basis,
            "dpi": fact.dpi,
        },
        actor,
    )
    return crop


@transaction.atomic
def reset_crop(image: Image, size_code: str, *, actor: Any) -> PrintCrop:
    """Back to the automatic placement (around the faces, else centred)."""
    order, locked, size = _crop_target(image, size_code, actor)
    picture_w, picture_h = prints.source_size(locked)
    rect, basis = prints.auto_crop(locked, size, picture_w, picture_h)
    crop = PrintCrop.objects.filter(image=locked, size=size).first() or PrintCrop(
        image=locked, size=size
    )
    was_manual = crop.pk is not None and crop.manual
    for name, value in rect.as_dict().items():
        setattr(crop, name, value)
    crop.basis = basis
    crop.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    crop.save()
    if was_manual:
        fact = next(f for f in prints.crop_facts(locked) if f.size.pk == size.pk)
        record_event(
            order,
            OrderEvent.Kind.IMAGE_CROP,
            {
                "image": locked.pk,
                "size": size.code,
                "label": size.label,
                "basis": basis,
                "dpi": fact.dpi,
            },
            actor,
        )
    return crop
