"""Polling side of live status: an order's timeline after a number, and the dashboard snapshot.

``GET /api/v1/orders/<order_ref>/timeline/?after=<seq>&limit=<n>`` answers the
same question as the WebSocket ``ws/orders/<order_ref>/?after=<seq>``: the
entries numbered above ``after``, oldest first. A client that cannot keep a
WebSocket (a proxy that blocks it) polls this with the last number it saw and
gets exactly what the socket would have sent: no gap, no repeat. It is also
the API's way to read an order's timeline in pages (``next_after``).

``GET /api/v1/dashboard/`` is the snapshot ``ws/dashboard/`` sends, for the
dashboard page's polling fallback.

Both go through the access rule (``Order.objects.restrict`` /
``access.order_scope``) and answer errors in the API's one shape. Included
from ``rkh_site.api_urls`` (one line), so this module owns its URLs.
"""

from __future__ import annotations

from typing import Any

from django.urls import re_path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from utilities import access
from utilities.api.permissions import BaseAPIView

from . import live, timeline
from .live import ORDER_REF
from .models import Order

#: Entries per answer: default and most.
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_SEQ = 2**31 - 1


class TimelineQuery(serializers.Serializer):
    after = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=MAX_SEQ,
        help_text="Return entries with a number above this one (default 0: from the first).",
    )
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"At most this many entries (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).",
    )


class TimelineEventSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="Number of the entry in its order: 1, 2, 3…")
    kind = serializers.CharField(help_text="`order.status_changed`, `image.status_changed`, …")
    at = serializers.DateTimeField()
    at_label = serializers.CharField(help_text="`at` for display, in the site's time zone.")
    actor = serializers.CharField(help_text="Who caused it; empty for the system.")
    text = serializers.CharField(help_text="The sentence the order page shows.")
    payload = serializers.DictField(help_text="The facts, by kind (see docs/live.md).")


class TimelinePageSerializer(serializers.Serializer):
    order = serializers.CharField(help_text="The order reference.")
    events = TimelineEventSerializer(many=True)
    next_after = serializers.IntegerField(
        help_text="Send this as `after` next time: the last number returned, or `after` "
        "itself when nothing new came."
    )
    has_more = serializers.BooleanField(help_text="More entries follow at once.")
    last_seq = serializers.IntegerField(help_text="The order's newest number when read.")
    state = serializers.DictField(
        help_text="The order's status, counters and what its page shows (the `order` object "
        "of the WebSocket's messages; docs/live.md), read after the entries."
    )


class OrderTimelineView(BaseAPIView):
    """An order's timeline entries after a number: the WebSocket's catch-up, over HTTP."""

    @extend_schema(
        summary="An order's timeline after a number (live status by polling)",
        description="Entries with `seq > after`, oldest first, at most `limit`. Poll with the "
        "`next_after` of the previous answer: nothing is skipped or repeated. The same "
        "entries the WebSocket `ws/orders/{order_ref}/?after=` sends (docs/live.md).",
        parameters=[TimelineQuery],
        responses=TimelinePageSerializer,
    )
    def get(self, request, order_ref: str) -> Response:
        query = TimelineQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after"], query.validated_data["limit"]
        visible = Order.objects.restrict(request.user, access.Action.VIEW)
        order_id = visible.filter(order_ref=order_ref).values_list("pk", flat=True).first()
        if order_id is None:
            raise NotFound(f"Order {order_ref} not found.")
        events, more = timeline.entries_after(order_id, after, limit=limit)
        # The order's state is read after its entries (as the WebSocket does): never older
        # than them. An order deleted in between is gone for this client too.
        order = live.state_queryset(visible).filter(pk=order_id).first()
        if order is None:
            raise NotFound(f"Order {order_ref} not found.")
        next_after = events[-1].seq if events else after
        body: dict[str, Any] = {
            "order": order.order_ref,
            "events": [timeline.entry_json(e) for e in events],
            "next_after": next_after,
            "has_more": more,
            "last_seq": max(order.last_event_seq, next_after),
            "state": live.order_state(order),
        }
        response = Response(body)
        response["Cache-Control"] = "no-store"
        return response


_DASHBOARD_RESPONSE = inline_serializer(
    name="DashboardSnapshot",
    fields={
        "type": serializers.CharField(help_text="Always `dashboard`."),
        "counters": serializers.DictField(
            child=serializers.IntegerField(), help_text="Visible orders per status."
        ),
        "total": serializers.IntegerField(),
        "open_count": serializers.IntegerField(help_text="Neither completed nor cancelled."),
        "orders": serializers.ListField(
            child=serializers.DictField(), help_text="The newest open orders (12)."
        ),
        "activity": serializers.ListField(
            child=serializers.DictField(), help_text="The latest timeline entries (15)."
        ),
        "attention": serializers.DictField(
            help_text='The "Needs attention" panel: `items` (each `key`, `level` '
            "error/warning/action, `text`, `links` [{label, url}]), `orders` (how many "
            "orders need attention) and `orders_capped`."
        ),
    },
)


class DashboardView(BaseAPIView):
    """The dashboard's content for the signed-in user (what ``ws/dashboard/`` sends)."""

    @extend_schema(
        summary="The dashboard's live content (polling fallback of ws/dashboard/)",
        description="Counters by status, newest open orders, latest activity and what needs "
        "attention, for the orders the user may see; the same object the WebSocket "
        "`ws/dashboard/` sends.",
        responses=_DASHBOARD_RESPONSE,
    )
    def get(self, request) -> Response:
        response = Response(live.dashboard_snapshot(request.user))
        response["Cache-Control"] = "no-store"
        return response


urlpatterns = [
    re_path(
        rf"^orders/{ORDER_REF}/timeline/?$",
        OrderTimelineView.as_view(),
        name="order-timeline",
    ),
    re_path(r"^dashboard/?$", DashboardView.as_view(), name="dashboard"),
]
