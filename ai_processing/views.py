"""The review queue page: images no AI provider could finish, and a person's three answers.

Thin: the list comes from ``Image.objects.restrict(user, REVIEW)`` (the one
access rule), answers go through ``ai_processing.services`` (approve, redo with
another preset, replace with a hand-edited file), which check access again and
record who did what. Post/redirect/get with a message, so a reload never
answers twice.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from orders import access
from orders.exceptions import OrderError
from orders.imaging.errors import ImageRejected
from orders.models import Image

from . import services
from .models import ProcessingPreset

PAGE_SIZE = 24


def _reviewable(user):
    return Image.objects.restrict(user, access.Action.REVIEW).filter(
        status=Image.Status.NEEDS_REVIEW
    )


def _require_reviewer(request) -> None:
    if not access.can_review(request.user):
        raise PermissionDenied("Only managers answer the review queue.")


def _back(request) -> HttpResponseRedirect:
    """Back to the queue page the form was on (only our own URL, never an outside one)."""
    query = request.POST.get("back", "")
    url = reverse("review_queue")
    if query.startswith("?") and len(query) < 500 and "//" not in query:
        url += query
    return HttpResponseRedirect(url)


@login_required
@require_GET
def review_queue(request):
    _require_reviewer(request)
    images = _reviewable(request.user).select_related("order", "order__event", "order__preset")
    search = request.GET.get("q", "").strip()[:100]
    if search:
        images = images.filter(
            Q(order__order_ref__iexact=search)
            | Q(order__event__event_id__iexact=search)
            | Q(original_filename__icontains=search)
        )
    raw_after = request.GET.get("after", "")
    after = int(raw_after) if raw_after.isdigit() and len(raw_after) < 19 else 0
    if after:
        images = images.filter(pk__gt=after)
    page = list(images.order_by("pk")[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    for image in page:
        base = reverse("order_detail", args=[image.order.order_ref])
        image.thumbnail_url = f"{base}images/{image.pk}/thumbnail" if image.thumbnail else ""
        image.preview_url = f"{base}images/{image.pk}/preview" if image.preview else ""
        image.trail_lines = _trail_lines(image)
    return render(
        request,
        "ai_processing/review.html",
        {
            "images": page,
            "search": search,
            "after": after,
            "next_after": page[-1].pk if more else None,
            "total": _reviewable(request.user).count(),
            "presets": ProcessingPreset.objects.order_by("name"),
            "max_file_mb": settings.INGEST_MAX_FILE_BYTES // (1024 * 1024),
            "back": request.get_full_path().removeprefix(reverse("review_queue")),
        },
    )


def _trail_lines(image: Image) -> list[str]:
    """What each provider did for each operation, in words (from ``ai_metadata.trail``)."""
    lines = []
    trail = image.ai_metadata.get("trail", {}) if isinstance(image.ai_metadata, dict) else {}
    for op, steps in trail.items():
        for step in steps if isinstance(steps, list) else []:
            if not isinstance(step, dict):
                continue
            reason = f": {step['reason']}" if step.get("reason") else ""
            lines.append(f"{op} · {step.get('provider')} {step.get('outcome')}{reason}")
    return lines


def _image_for_answer(request, image_id: int) -> Image:
    _require_reviewer(request)
    image = get_object_or_404(Image.objects.select_related("order"), pk=image_id)
    if not access.can(request.user, access.Action.REVIEW, image.order):
        raise Http404("No such image.")
    return image


def _answer(request, call, done: str) -> HttpResponseRedirect:
    try:
        image = call()
    except (OrderError, PermissionDenied, ImageRejected) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done.format(name=image.original_filename))
    return _back(request)


@login_required
@require_POST
def review_approve(request, image_id: int):
    image = _image_for_answer(request, image_id)
    return _answer(
        request, lambda: services.approve_image(image, actor=request.user), "{name} approved."
    )


@login_required
@require_POST
def review_redo(request, image_id: int):
    image = _image_for_answer(request, image_id)
    slug = request.POST.get("preset", "")
    preset = None
    if slug:
        preset = ProcessingPreset.objects.filter(slug=slug[:100]).first()
        if preset is None:
            messages.error(request, "That preset does not exist (any more); pick another.")
            return _back(request)
    return _answer(
        request,
        lambda: services.redo_image(image, actor=request.user, preset=preset),
        "{name} sent to AI processing again" + (f" with preset {preset.name}." if preset else "."),
    )


@login_required
@require_POST
def review_upload(request, image_id: int):
    image = _image_for_answer(request, image_id)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose the hand-edited file to upload.")
        return _back(request)
    if upload.size > settings.INGEST_MAX_FILE_BYTES:
        messages.error(request, f"{upload.name} is too large.")
        return _back(request)
    data = upload.read()
    return _answer(
        request,
        lambda: services.replace_with_hand_edit(
            image, data, filename=upload.name or "hand-edit.jpg", actor=request.user
        ),
        "{name} replaced by the hand-edited file.",
    )
