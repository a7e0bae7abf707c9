"""The order page's AI actions: retry failed images, reprocess with another preset.

Thin, like the review page: the order comes through the access rule (404 when
not visible, 403 without the ``process`` right), the work through
``ai_processing.services`` (which checks again), and the answer is a message on
the order page (post/redirect/get, so a reload never does it twice).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from orders.models import Image, Order
from utilities import access
from utilities.errors import OrderError

from . import services
from .models import ProcessingPreset


def _order(request, order_ref: str) -> Order:
    order = get_object_or_404(Order.objects.visible_to(request.user), order_ref=order_ref)
    if not access.can(request.user, access.Action.PROCESS, order):
        raise PermissionDenied(f"You may not process order {order.order_ref}.")
    return order


def _back(order: Order) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("order_detail", args=[order.order_ref]) + "#actions")


@login_required
@require_POST
def retry_image(request, order_ref: str, image_id: int):
    order = _order(request, order_ref)
    image = get_object_or_404(Image, pk=image_id, order=order)
    try:
        services.retry_failed_image(image, actor=request.user)
    except OrderError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{image.original_filename} is being processed again.")
    return _back(order)


@login_required
@require_POST
def retry_failed(request, order_ref: str):
    order = _order(request, order_ref)
    try:
        retried, problems = services.retry_failed_images(order, actor=request.user)
    except OrderError as exc:
        messages.error(request, str(exc))
        return _back(order)
    if retried:
        messages.success(
            request,
            f"{retried} failed image{'s are' if retried != 1 else ' is'} being processed again.",
        )
    for problem in problems[:5]:
        messages.error(request, problem)
    if len(problems) > 5:
        messages.error(request, f"{len(problems) - 5} more images could not be retried.")
    return _back(order)


@login_required
@require_POST
def reprocess(request, order_ref: str):
    order = _order(request, order_ref)
    slug = request.POST.get("preset", "")[:100]
    preset = ProcessingPreset.objects.filter(slug=slug, is_active=True).first() if slug else None
    if preset is None:
        messages.error(request, "Choose the preset to reprocess the images with.")
        return _back(order)
    try:
        count = services.reprocess_order(order, actor=request.user, preset=preset)
    except OrderError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"{count} image{'s are' if count != 1 else ' is'} being reprocessed with "
            f"preset {preset.name}.",
        )
    return _back(order)
