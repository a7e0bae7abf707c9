"""The approval page: an order held for approval, image by image, before and after.

``/orders/<ref>/approval/`` shows every image the order would deliver, each as a
before/after comparison (a slider over the original's preview and the edited file; a
100 % view that loads both at full resolution in a pannable frame: static/js/approval.js),
with Approve and Turn down; images already turned down offer a redo with another preset or
a hand-edited file. Everyone who may view the order sees the page; the buttons only for
those who may approve it (``access.Action.APPROVE``: the one access rule). Answers go
through ``ai_processing.approval`` (and ``services.redo_image`` /
``services.replace_with_hand_edit``), post and redirect back with a sentence, so a
reload never answers twice and an answer someone else gave first is a sentence, not an
error page. The files are served here through the same access rule, inline, with the
sandboxing CSP of the other image files.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_POST

from orders.imaging.errors import ImageRejected
from orders.models import Image, Order
from orders.views import FILE_CSP
from utilities import media
from utilities.errors import OrderError

from . import approval, hold, services
from .models import ProcessingPreset

#: Images one page shows; an order with more has pages (``?page=2``), each answered image
#: by image, while the whole-order buttons answer every page at once. 100 keeps a page's
#: before/after pairs quick to load and scroll on a laptop.
PAGE_IMAGES = 100
MAX_REASON = approval.MAX_REASON
#: Originals a browser shows inline at full resolution (others: the preview stands in).
BROWSER_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


def _order(request, order_ref: str) -> Order:
    return get_object_or_404(
        Order.objects.visible_to(request.user).select_related("event", "preset"),
        order_ref=order_ref,
    )


def _images(order: Order):
    """What the page lists: images the order would deliver (or delivered after approval),
    those turned down here, and those being redone after that."""
    return (
        Image.objects.filter(order_id=order.pk)
        .filter(
            Q(status__in=hold.DELIVERABLE)
            | Q(status=Image.Status.SYNCED, approved_at__isnull=False)
            | Q(status=Image.Status.NEEDS_REVIEW, review_reason=Image.ReviewReason.APPROVAL)
            | Q(status__in=Image.IN_WORK, ai_metadata__has_key=services.REDO)
        )
        .select_related("approved_by")
        .order_by("name_key", "pk")
    )


@login_required
@require_GET
def approval_page(request, order_ref: str):
    order = _order(request, order_ref)
    may_approve = approval.may_approve(request.user, order)
    page = Paginator(_images(order), PAGE_IMAGES).get_page(request.GET.get("page"))
    images = list(page.object_list)
    waiting = order.status == Order.Status.AWAITING_APPROVAL
    for image in images:
        image.turned_down = image.status == Image.Status.NEEDS_REVIEW
        image.in_work = image.status in Image.IN_WORK
        image.waiting = waiting and image.status in hold.DELIVERABLE and not image.approved_at
        image.before_url = reverse("image_preview", args=[order.order_ref, image.pk])
        image.after_url = (
            reverse("approval_file", args=[order.order_ref, image.pk, "edited"])
            if image.processed
            else ""
        )
        image.full_url = (
            reverse("approval_file", args=[order.order_ref, image.pk, "original"])
            if image.mime_type in BROWSER_TYPES
            else image.before_url
        )
    # The whole order's count (the "Approve all" button answers every page), not this page's.
    unapproved = (
        _images(order).filter(status__in=hold.DELIVERABLE, approved_at__isnull=True).count()
        if waiting
        else 0
    )
    return render(
        request,
        "ai_processing/approval.html",
        {
            "order": order,
            "images": images,
            "page": page,
            "page_query": f"?page={page.number}" if page.number > 1 else "",
            "waiting": waiting,
            "unapproved": unapproved,
            "may_approve": may_approve,
            "presets": ProcessingPreset.objects.filter(is_active=True).order_by("name")
            if may_approve
            else [],
            "max_reason": MAX_REASON,
            "max_file_mb": settings.INGEST_MAX_FILE_BYTES // (1024 * 1024),
        },
    )


def _back(request, order_ref: str) -> HttpResponseRedirect:
    """Back to the approval page, on the page the answer came from (``?page=`` of the form's
    action; a number only, anything else is the first page)."""
    url = reverse("order_approval", args=[order_ref])
    number = request.GET.get("page", "")
    if number.isdigit() and int(number) > 1:
        url += f"?page={int(number)}"
    return HttpResponseRedirect(url)


def _answer(request, order_ref: str, call, done: str) -> HttpResponseRedirect:
    try:
        outcome = call()
    except (OrderError, PermissionDenied, ImageRejected) as exc:
        messages.error(request, str(exc))
    except (Image.DoesNotExist, Order.DoesNotExist):
        messages.warning(request, "That image or order no longer exists.")
    else:
        name = getattr(outcome, "original_filename", "")
        messages.success(request, done.format(name=name, n=outcome))
    return _back(request, order_ref)


def _image(order: Order, image_id: int) -> Image:
    return get_object_or_404(Image.objects.select_related("order"), pk=image_id, order=order)


def _preset(request) -> tuple[ProcessingPreset | None, str]:
    """The preset a redo asks for ("" → none) and, when the slug is unknown, a sentence."""
    slug = request.POST.get("preset", "")[:100]
    if not slug:
        return None, ""
    preset = ProcessingPreset.objects.filter(slug=slug, is_active=True).first()
    if preset is None:
        return None, "That preset does not exist (any more); pick another."
    return preset, ""


@login_required
@require_POST
def approve_all(request, order_ref: str):
    order = _order(request, order_ref)
    return _answer(
        request,
        order_ref,
        lambda: approval.approve_order(order, actor=request.user),
        "Approved; the order goes on to the PMR.",
    )


@login_required
@require_POST
def reject_all(request, order_ref: str):
    order = _order(request, order_ref)
    preset, problem = _preset(request)
    if problem:
        messages.error(request, problem)
        return _back(request, order_ref)
    reason = request.POST.get("reason", "")[:MAX_REASON]
    done = "{n} image(s) turned down" + (
        f" and sent to be redone with {preset.name}." if preset else "."
    )
    return _answer(
        request,
        order_ref,
        lambda: approval.reject_order(order, actor=request.user, reason=reason, preset=preset),
        done,
    )


@login_required
@require_POST
def approve_one(request, order_ref: str, image_id: int):
    order = _order(request, order_ref)
    image = _image(order, image_id)
    return _answer(
        request,
        order_ref,
        lambda: approval.approve_image(image, actor=request.user),
        "{name} approved.",
    )


@login_required
@require_POST
def reject_one(request, order_ref: str, image_id: int):
    order = _order(request, order_ref)
    image = _image(order, image_id)
    preset, problem = _preset(request)
    if problem:
        messages.error(request, problem)
        return _back(request, order_ref)
    reason = request.POST.get("reason", "")[:MAX_REASON]
    done = "{name} turned down" + (
        f" and sent to be redone with {preset.name}."
        if preset
        else "; redo it or upload a hand-edited file below."
    )
    return _answer(
        request,
        order_ref,
        lambda: approval.reject_image(image, actor=request.user, reason=reason, preset=preset),
        done,
    )


@login_required
@require_POST
def redo_one(request, order_ref: str, image_id: int):
    order = _order(request, order_ref)
    image = _image(order, image_id)
    preset, problem = _preset(request)
    if problem:
        messages.error(request, problem)
        return _back(request, order_ref)
    return _answer(
        request,
        order_ref,
        lambda: services.redo_image(image, actor=request.user, preset=preset),
        "{name} sent to AI processing again" + (f" with preset {preset.name}." if preset else "."),
    )


@login_required
@require_POST
def upload_one(request, order_ref: str, image_id: int):
    order = _order(request, order_ref)
    image = _image(order, image_id)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose the hand-edited file to upload.")
        return _back(request, order_ref)
    if upload.size > settings.INGEST_MAX_FILE_BYTES:
        messages.error(request, f"{upload.name} is too large.")
        return _back(request, order_ref)
    data = upload.read()
    return _answer(
        request,
        order_ref,
        lambda: services.replace_with_hand_edit(
            image, data, filename=upload.name or "hand-edit.jpg", actor=request.user
        ),
        "{name} replaced by the hand-edited file; approve it when it shows here again.",
    )


@login_required
@require_GET
def approval_file(request, order_ref: str, image_id: int, kind: str):
    """The edited file, or the original when a browser can show it, inline at full size."""
    if kind not in ("edited", "original"):
        raise Http404
    image = get_object_or_404(
        Image.objects.visible_to(request.user).only(
            "id", "order_id", "original_filename", "mime_type", "original", "processed"
        ),
        pk=image_id,
        order__order_ref=order_ref,
    )
    field_file = image.processed if kind == "edited" else image.original
    mime = "image/jpeg" if kind == "edited" else image.mime_type
    if not field_file or mime not in BROWSER_TYPES:
        raise Http404(f"The {kind} file of this image cannot be shown.")
    try:
        handle = media.open_stream(field_file.storage, field_file.name)  # streamed, not copied
    except OSError as exc:
        raise Http404(f"The {kind} file of this image is missing.") from exc
    stem = PurePosixPath(image.original_filename).stem or "image"
    suffix = "jpg" if kind == "edited" else PurePosixPath(image.original_filename).suffix[1:]
    response = FileResponse(handle, filename=f"{stem}-{kind}.{suffix}", content_type=mime)
    patch_cache_control(response, private=True, no_cache=True)
    response["Content-Security-Policy"] = FILE_CSP
    response["X-Content-Type-Options"] = "nosniff"
    return response
