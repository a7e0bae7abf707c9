"""Manual upload: a ZIP of what the PMR would receive for an order (``pmr.export``).

For when the PMR cannot be reached by the automation at all: staff download
this, upload it by hand, then mark the order "uploaded by hand" in the admin.
Managers only (the access rule's review action), like the other overrides.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from orders.models import Order
from utilities import access
from utilities.audit import record_access

from .export import stream_order_zip


@login_required
@require_GET
def export_zip(request, order_ref: str):
    order = get_object_or_404(
        Order.objects.visible_to(request.user).select_related("event"), order_ref=order_ref
    )
    if not access.can(request.user, access.Action.REVIEW, order):
        raise Http404("No such order.")
    record_access(order, "exported_zip", actor=request.user, request=request)
    response = StreamingHttpResponse(
        (piece for piece in stream_order_zip(order) if piece), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{order.order_ref}-pmr.zip"'
    return response
