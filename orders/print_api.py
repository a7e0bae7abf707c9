"""REST API of prints: ``/api/v1/print-sizes`` and each order's and image's prints and crops.

- ``GET print-sizes``: the sizes on offer;
- ``GET|PUT orders/<ref>/prints``: what the order's customer bought (PUT replaces the lines);
- ``GET|PUT|DELETE orders/<ref>/images/<id>/prints``: an image's own lines (DELETE: it takes
  its order's again), with what applies and each crop's effective DPI;
- ``PUT|DELETE orders/<ref>/images/<id>/crops/<size>``: place a crop by hand, or back to
  the automatic placement.

Thin: reads through the access rule (``Order.objects.restrict``), writes through
``orders.print_services`` (which checks again under the order's lock). Writing
needs the right to edit the order (``Action.CHANGE``): Admin and Manager on every
order, a User on their own and assigned ones, a Viewer never. See docs/api.md, "Prints".
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any

from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from utilities import access
from utilities.api.errors import JSONParser
from utilities.api.permissions import BaseAPIView
from utilities.api.schema import error_responses

from . import print_services, prints
from .models import Image, Order, PrintSize

log = logging.getLogger(__name__)
Action = access.Action
ORDER_REF_REGEX = r"[A-Za-z0-9][A-Za-z0-9-]{0,39}"
#: Most lines one request may send (there are a handful of sizes).
MAX_LINES = 50
CONFLICT = error_responses(
    **{
        "409": "The order is closed or handed to the PMR delivery, or the image is not printed "
        "at that size (`conflict`)."
    }
)


# --- serializers ------------------------------------------------------------------------


class PrintSizeSerializer(serializers.ModelSerializer):
    physical = serializers.BooleanField(source="is_physical", read_only=True)

    class Meta:
        model = PrintSize
        fields = ["code", "label", "width_in", "height_in", "physical", "active"]


class _SizeCode(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=20, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class _Quantity(serializers.IntegerField):
    """A whole number of copies, sent as a number (not true, not "2")."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=print_services.MAX_QUANTITY, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class LineSerializer(serializers.Serializer):
    size = _SizeCode(help_text='A print size code, e.g. "4x6".')
    quantity = _Quantity()


class LinesSerializer(serializers.Serializer):
    lines = LineSerializer(many=True, max_length=MAX_LINES)


class CropBoxSerializer(serializers.Serializer):
    x = serializers.FloatField(min_value=0, max_value=1)
    y = serializers.FloatField(min_value=0, max_value=1)
    width = serializers.FloatField(min_value=0, max_value=1)
    height = serializers.FloatField(min_value=0, max_value=1)


class CropSerializer(serializers.Serializer):
    size = serializers.CharField()
    label = serializers.CharField()
    x = serializers.FloatField()
    y = serializers.FloatField()
    width = serializers.FloatField()
    height = serializers.FloatField()
    basis = serializers.CharField(help_text="`faces`, `centre` or `manual`.")
    aspect = serializers.FloatField(help_text="Width / height of the print, as placed.")
    pixels = serializers.ListField(child=serializers.IntegerField())
    dpi = serializers.IntegerField(help_text="Effective DPI on the best available file.")
    min_dpi = serializers.IntegerField()
    needed = serializers.ListField(child=serializers.IntegerField())
    short = serializers.BooleanField()


def _line_json(line: Any) -> dict[str, Any]:
    return {"size": line.size.code, "label": line.size.label, "quantity": line.quantity}


@contextmanager
def _as_bad_request(field: str):
    """A service's refusal of the input itself is a 400 on ``field``, not a 409."""
    try:
        yield
    except print_services.InvalidPrintInput as exc:
        raise serializers.ValidationError({field: [str(exc)]}) from exc


def _lines_from(request) -> list[dict[str, Any]]:
    serializer = LinesSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return [dict(line) for line in serializer.validated_data["lines"]]


# --- views ------------------------------------------------------------------------------


class _PrintsView(BaseAPIView):
    """Signed in with access to orders; the order is checked per view."""

    parser_classes = [JSONParser]

    def order(self, order_ref: str, action: Action = Action.VIEW) -> Order:
        order = (
            Order.objects.restrict(self.request.user, Action.VIEW)
            .filter(order_ref=order_ref)
            .first()
        )
        if order is None:
            raise NotFound(f"Order {order_ref} not found.")
        if action is not Action.VIEW and not access.can(self.request.user, action, order):
            raise PermissionDenied(f"You may not change the prints of order {order.order_ref}.")
        return order

    def image(self, order_ref: str, image_id: str, action: Action = Action.VIEW) -> Image:
        order = self.order(order_ref, action)
        image = Image.objects.filter(order=order, pk=int(image_id)).select_related("order").first()
        if image is None:
            raise NotFound(f"Image {image_id} not found in order {order.order_ref}.")
        return image


class PrintSizeList(_PrintsView):
    @extend_schema(
        summary="List the print sizes on offer",
        responses={200: PrintSizeSerializer(many=True)},
    )
    def get(self, request):
        sizes = PrintSize.objects.filter(active=True)
        return Response(PrintSizeSerializer(sizes, many=True).data)


class OrderPrints(_PrintsView):
    """What an order's customer bought."""

    def body(self, order: Order) -> dict[str, Any]:
        return {
            "order": order.order_ref,
            "lines": [_line_json(line) for line in prints.order_lines(order)],
            "editable": not print_services.prints_refused_because(order),
        }

    @extend_schema(summary="Read an order's print lines", responses={200: OpenApiTypes.OBJECT})
    def get(self, request, order_ref: str):
        return Response(self.body(self.order(order_ref)))

    @extend_schema(
        summary="Replace an order's print lines",
        request=LinesSerializer,
        responses={200: OpenApiTypes.OBJECT, **CONFLICT},
    )
    def put(self, request, order_ref: str):
        order = self.order(order_ref, Action.CHANGE)
        lines = _lines_from(request)
        with _as_bad_request("lines"):
            print_services.set_order_prints(order, lines, actor=request.user)
        order.refresh_from_db()
        return Response(self.body(order))


def image_prints_body(image: Image) -> dict[str, Any]:
    """An image's prints as the API and the review page's script read them."""
    own = prints.image_lines(image)
    try:
        crops = [fact.as_dict() for fact in prints.crop_facts(image)]
        problem = ""
    except Exception as exc:  # a stored file that cannot be read: said, not a 500
        log.warning("Crops of image %s not computed", image.pk, exc_info=True)
        crops, problem = [], f"The crops could not be computed: {str(exc)[:200]}"
    return {
        "image": image.pk,
        "inherited": not own,
        "lines": [_line_json(line) for line in own],
        "effective": [
            {"size": line.size.code, "label": line.size.label, "quantity": line.quantity}
            for line in prints.ordered_lines(image)
        ],
        "crops": crops,
        "crops_problem": problem,
        "editable": not print_services.prints_refused_because(image.order),
    }


class ImagePrints(_PrintsView):
    """An image's own print lines, what applies to it, and its crops."""

    @extend_schema(summary="Read an image's prints and crops", responses={200: OpenApiTypes.OBJECT})
    def get(self, request, order_ref: str, image_id: str):
        return Response(image_prints_body(self.image(order_ref, image_id)))

    @extend_schema(
        summary="Give an image its own print lines",
        request=LinesSerializer,
        responses={200: OpenApiTypes.OBJECT, **CONFLICT},
    )
    def put(self, request, order_ref: str, image_id: str):
        image = self.image(order_ref, image_id, Action.CHANGE)
        lines = _lines_from(request)
        with _as_bad_request("lines"):
            print_services.set_image_prints(image, lines, actor=request.user)
        return Response(image_prints_body(image))

    @extend_schema(
        summary="Let an image take its order's print lines again",
        responses={200: OpenApiTypes.OBJECT, **CONFLICT},
    )
    def delete(self, request, order_ref: str, image_id: str):
        image = self.image(order_ref, image_id, Action.CHANGE)
        print_services.set_image_prints(image, [], actor=request.user)
        return Response(image_prints_body(image))


class ImageCrop(_PrintsView):
    """One size's crop of an image: placed by hand (PUT) or automatically again (DELETE)."""

    def answer(self, image: Image, size_code: str) -> Response:
        fact = next(f for f in prints.crop_facts(image) if f.size.code == size_code)
        return Response(fact.as_dict(), status=status.HTTP_200_OK)

    @extend_schema(
        summary="Place a crop by hand",
        request=CropBoxSerializer,
        responses={200: CropSerializer, **CONFLICT},
    )
    def put(self, request, order_ref: str, image_id: str, size_code: str):
        image = self.image(order_ref, image_id, Action.CHANGE)
        serializer = CropBoxSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _as_bad_request("width"):
            print_services.save_crop(
                image, size_code, serializer.validated_data, actor=request.user
            )
        return self.answer(image, size_code)

    @extend_schema(
        summary="Put a crop back where the automatic placement puts it",
        responses={200: CropSerializer, **CONFLICT},
    )
    def delete(self, request, order_ref: str, image_id: str, size_code: str):
        image = self.image(order_ref, image_id, Action.CHANGE)
        print_services.reset_crop(image, size_code, actor=request.user)
        return self.answer(image, size_code)


urlpatterns = [
    re_path(r"^print-sizes/?$", PrintSizeList.as_view(), name="print-sizes"),
    re_path(
        rf"^orders/(?P<order_ref>{ORDER_REF_REGEX})/prints/?$",
        OrderPrints.as_view(),
        name="order-prints",
    ),
    re_path(
        rf"^orders/(?P<order_ref>{ORDER_REF_REGEX})/images/(?P<image_id>[0-9]{{1,18}})/prints/?$",
        ImagePrints.as_view(),
        name="image-prints",
    ),
    re_path(
        rf"^orders/(?P<order_ref>{ORDER_REF_REGEX})/images/(?P<image_id>[0-9]{{1,18}})"
        r"/crops/(?P<size_code>[A-Za-z0-9_-]{1,20})/?$",
        ImageCrop.as_view(),
        name="image-crop",
    ),
]
