"""REST API of the hold for approval (docs/api.md, "Approval"; docs/approval.md).

- ``POST orders/{ref}/approve``: every image still waiting is approved; the order goes on to
  the PMR;
- ``POST orders/{ref}/reject``: every image still waiting is turned down (``reason``,
  optional ``preset`` to redo them with);
- ``POST orders/{ref}/images/{id}/approve`` and ``…/reject``: one image.

One access rule (``utilities.access``): an order the caller may not view is 404; one they may
view but not approve (``Action.APPROVE``: Managers and Admins, the order's own user when the
hold allows it; never a Viewer) is 403; an order not awaiting approval, or an image not
waiting for it, is 409. Thin: ``ai_processing.approval`` does the work.
"""

from __future__ import annotations

from typing import Any

from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from orders.api import ORDER_REF_REGEX, ImageSerializer, OrderSerializer, PresetField
from orders.models import Image, Order
from utilities import access
from utilities.api.errors import JSONParser
from utilities.api.permissions import BaseAPIView
from utilities.api.schema import error_responses

from . import approval
from .api import _Text

Action = access.Action


class RejectSerializer(serializers.Serializer):
    reason = _Text(required=False, allow_blank=True, max_length=approval.MAX_REASON, default="")
    preset = PresetField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Redo the turned-down images with this preset now (its slug); without it "
        "they wait in review for a redo or a hand-edited file.",
    )


class OrderApprovalResponse(serializers.Serializer):
    order = OrderSerializer()
    images = serializers.IntegerField(help_text="Images this request approved or turned down.")


class _ApprovalView(BaseAPIView):
    """Signed in with access to orders; the order is checked per view."""

    parser_classes = [JSONParser]

    def order(self, request, order_ref: str) -> Order:
        order = (
            Order.objects.restrict(request.user, Action.VIEW)
            .select_related("event", "preset")
            .filter(order_ref=order_ref)
            .first()
        )
        if order is None:
            raise NotFound(f"Order {order_ref} not found.")
        if not access.can(request.user, Action.APPROVE, order):
            self.permission_denied(request, message=f"You may not approve order {order_ref}.")
        return order

    def image(self, order: Order, image_id: str) -> Image:
        image = Image.objects.filter(order=order, pk=int(image_id)).select_related("order").first()
        if image is None:
            raise NotFound(f"Image {image_id} not found in order {order.order_ref}.")
        return image

    def order_answer(self, request, order: Order, count: int) -> Response:
        order = Order.objects.select_related("event", "preset").get(pk=order.pk)
        body: dict[str, Any] = {
            "order": OrderSerializer(order, context={"request": request}).data,
            "images": count,
        }
        return Response(body)

    def reject_body(self, request) -> dict[str, Any]:
        body = RejectSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        return body.validated_data


_CONFLICT = error_responses(
    **{"409": "The order is not awaiting approval, or the image is not waiting for it."}
)


class ApproveOrder(_ApprovalView):
    @extend_schema(
        summary="Approve an order awaiting approval",
        description="Every image still waiting is approved; the order goes on to the PMR "
        "(its delivery rows are written now, once). Managers and Admins; the order's own "
        "user when its hold allows it.",
        request=None,
        responses={200: OrderApprovalResponse, **_CONFLICT},
    )
    def post(self, request, order_ref: str):
        order = self.order(request, order_ref)
        count = approval.approve_order(order, actor=request.user)
        return self.order_answer(request, order, count)


class RejectOrder(_ApprovalView):
    @extend_schema(
        summary="Turn down an order's results",
        description="Every image still waiting for approval is turned down: it waits in "
        "review (reason `approval`) with who and why, and with `preset` it is redone with "
        "that preset at once. Images already approved stay approved.",
        request=RejectSerializer,
        responses={200: OrderApprovalResponse, **_CONFLICT},
    )
    def post(self, request, order_ref: str):
        order = self.order(request, order_ref)
        data = self.reject_body(request)
        count = approval.reject_order(
            order, actor=request.user, reason=data["reason"], preset=data["preset"]
        )
        return self.order_answer(request, order, count)


class ApproveImage(_ApprovalView):
    @extend_schema(
        summary="Approve one image of an order awaiting approval",
        description="When it was the last one waiting, the order goes on to the PMR.",
        request=None,
        responses={200: ImageSerializer, **_CONFLICT},
    )
    def post(self, request, order_ref: str, pk: str):
        order = self.order(request, order_ref)
        image = approval.approve_image(self.image(order, pk), actor=request.user)
        return Response(ImageSerializer(image).data)


class RejectImage(_ApprovalView):
    @extend_schema(
        summary="Turn down one image of an order awaiting approval",
        description="The image waits in review (reason `approval`); with `preset` it is "
        "redone with that preset at once, else a redo or a hand-edited file follows.",
        request=RejectSerializer,
        responses={200: ImageSerializer, **_CONFLICT},
    )
    def post(self, request, order_ref: str, pk: str):
        order = self.order(request, order_ref)
        data = self.reject_body(request)
        image = approval.reject_image(
            self.image(order, pk), actor=request.user, reason=data["reason"], preset=data["preset"]
        )
        return Response(ImageSerializer(image).data)


_ORDER = rf"orders/(?P<order_ref>{ORDER_REF_REGEX})"
_IMAGE = rf"{_ORDER}/images/(?P<pk>[0-9]{{1,18}})"

urlpatterns = [
    re_path(rf"^{_ORDER}/approve/?$", ApproveOrder.as_view(), name="order-approve"),
    re_path(rf"^{_ORDER}/reject/?$", RejectOrder.as_view(), name="order-reject"),
    re_path(rf"^{_IMAGE}/approve/?$", ApproveImage.as_view(), name="order-image-approve"),
    re_path(rf"^{_IMAGE}/reject/?$", RejectImage.as_view(), name="order-image-reject"),
]
