"""Server-rendered order pages. Thin: they read through the access rule and
render; writes go through ``orders.services``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import get_object_or_404, render

from . import access
from .models import Order


@login_required
def home(request):
    visible = Order.objects.visible_to(request.user)
    by_status = dict(
        visible.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    counters = [(value, label, by_status.get(value, 0)) for value, label in Order.Status.choices]
    orders = visible.select_related("event", "created_by", "assigned_to")[:50]
    return render(
        request,
        "orders/home.html",
        {
            "orders": orders,
            "counters": counters,
            "total": sum(by_status.values()),
            "can_create": access.can_create_order(request.user),
            "can_view_analytics": access.can_view_analytics(request.user),
        },
    )


@login_required
def order_detail(request, order_ref: str):
    order = get_object_or_404(
        Order.objects.visible_to(request.user).select_related("event", "created_by", "assigned_to"),
        order_ref=order_ref,
    )
    return render(
        request,
        "orders/order_detail.html",
        {
            "order": order,
            "images": order.images.all()[:200],
            "timeline": order.timeline.select_related("actor").order_by("-seq")[:100],
            "can_change": access.can(request.user, access.Action.CHANGE, order),
            "can_process": access.can(request.user, access.Action.PROCESS, order),
        },
    )
