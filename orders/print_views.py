"""The image's prints page: its own print lines and the crop of each size it is printed at.

Thin: the form's lines go to ``print_services.set_image_prints``; the crop editor
(static/js/crops.js) reads and writes through the prints API
(``orders.print_api``), which calls the same services. The review page shows
the same editor (``orders/includes/crop_editor.html``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from utilities import access
from utilities.errors import OrderError

from . import print_services, prints
from .forms import ImagePrintsForm
from .models import Image


def crop_editor_context(image: Image, user) -> dict:
    """What the crop editor include needs for one image."""
    ref = image.order.order_ref
    return {
        "image": image,
        "prints_api": f"/api/v1/orders/{ref}/images/{image.pk}/prints",
        "preview_url": _picture_url(image, ref),
        "can_edit": access.can(user, access.Action.CHANGE, image.order)
        and not print_services.prints_refused_because(image.order),
    }


def _picture_url(image: Image, ref: str) -> str:
    """The picture the crop frames are drawn over: the preview (made from the original) when
    the delivered file has the original's shape, else the edited file itself (a generative
    edit of another aspect, a hand edit of another shape): the crops are fractions of the
    delivered file, and drawn over the original they would frame something else."""
    if image.processed and image.width and image.height:
        try:
            width, height = prints.source_size(image)
        except Exception:  # an unreadable file: the preview, as before
            width, height = image.width, image.height
        if abs((width / height) / (image.width / image.height) - 1) > 0.01:
            return reverse("approval_file", args=[ref, image.pk, "edited"])
    return reverse("image_preview", args=[ref, image.pk]) if image.preview else ""


@login_required
@require_http_methods(["GET", "POST"])
def image_prints(request, order_ref: str, image_id: int):
    image = (
        Image.objects.restrict(request.user, access.Action.VIEW)
        .select_related("order")
        .filter(order__order_ref=order_ref, pk=image_id)
        .first()
    )
    if image is None:
        raise Http404("No such image.")
    order = image.order
    may_change = access.can(request.user, access.Action.CHANGE, order)
    refused = print_services.prints_refused_because(order)
    current = {line.size.code: line.quantity for line in prints.image_lines(image)}
    form = ImagePrintsForm(request.POST or None, current=current)
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied(f"You may not change the prints of order {order.order_ref}.")
        if refused:
            messages.error(request, refused)
            return redirect("image_prints", order_ref=order.order_ref, image_id=image.pk)
        if form.is_valid():
            lines = form.print_lines() if form.cleaned_data["own"] else []
            try:
                print_services.set_image_prints(image, lines, actor=request.user)
            except OrderError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"The prints of {image.original_filename} are saved.")
                return redirect("image_prints", order_ref=order.order_ref, image_id=image.pk)
    try:
        facts = prints.crop_facts(image)
    except Exception:  # an unreadable file: the page still shows the lines
        facts = []
    return render(
        request,
        "orders/image_prints.html",
        {
            **crop_editor_context(image, request.user),
            "order": order,
            "form": form,
            "may_change": may_change and not refused,
            "refused": refused,
            "effective": prints.ordered_lines(image),
            "facts": facts,
            # No print ordered: what the delivered file is instead of a DPI (issue 16).
            "digital": None if facts else prints.image_digital_facts(image),
        },
        status=400 if form.is_bound else 200,
    )
