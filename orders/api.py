"""REST API of orders: ``/api/v1/orders`` and each order's images.

Thin, like the pages: reads go through the access rule
(``Order.objects.restrict(user, action)``, ``access.can``), writes through
``orders.services`` and ``orders.intake``. Errors are shaped by
``rkh_site.api_errors``. See ``docs/api.md`` for the endpoints.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import Q
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.models import User
from ai_processing.models import ProcessingPreset
from events.models import Event, event_id_validator
from rkh_site.api_errors import error_response

from . import access, intake, services
from .models import Image, Order

Action = access.Action

#: Longest free-text note an order takes through the API.
NOTES_MAX_LENGTH = 10_000
#: Largest ``metadata`` object, serialised, in characters.
METADATA_MAX_CHARS = 32_000
#: Longest ``?search=`` term.
SEARCH_MAX_LENGTH = 100


# --- pagination -----------------------------------------------------------------


class _Cursor(CursorPagination):
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (NotFound, ValueError, TypeError, OverflowError, DjangoValidationError):
            # A cursor DRF cannot decode (it says 404), or one whose position does
            # not fit the ordering field (a forged one): bad input either way.
            raise ValidationError({"cursor": ["Invalid cursor."]}) from None


class OrderPagination(_Cursor):
    ordering = ("-created_at", "-id")


class ImagePagination(_Cursor):
    ordering = ("id",)


# --- fields -----------------------------------------------------------------------


class _CheckedSlugField(serializers.SlugRelatedField):
    """A slug lookup that checks the value's shape before it reaches the database
    (a NUL byte or a megabyte string is refused here, not by PostgreSQL)."""

    max_length = 100

    def check_shape(self, data: str) -> None:
        validate_slug(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        data = data.strip()
        try:
            if len(data) > self.max_length:
                raise DjangoValidationError("too long")
            self.check_shape(data)
        except DjangoValidationError:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data[:60])
        return super().to_internal_value(data)


class EventField(_CheckedSlugField):
    default_error_messages = {
        "does_not_exist": "Unknown Event ID '{value}'.",
        "invalid": 'An Event ID is a string, e.g. "WED-2025-0142".',
    }
    max_length = 50

    def __init__(self, **kwargs):
        super().__init__(slug_field="event_id", queryset=Event.objects.all(), **kwargs)

    def check_shape(self, data: str) -> None:
        event_id_validator(data)


class PresetField(_CheckedSlugField):
    default_error_messages = {
        "does_not_exist": "Unknown or inactive processing preset '{value}'.",
        "invalid": "A preset is given by its slug, a string.",
    }

    def __init__(self, **kwargs):
        super().__init__(
            slug_field="slug", queryset=ProcessingPreset.objects.filter(is_active=True), **kwargs
        )


class UserField(serializers.PrimaryKeyRelatedField):
    """An active user, by numeric id (not ``1.5``, not ``true``)."""

    default_error_messages = {
        "does_not_exist": "No active user with id {pk_value}.",
        "incorrect_type": "A user is given by their numeric id, not {data_type}.",
    }

    def __init__(self, **kwargs):
        super().__init__(queryset=User.objects.filter(is_active=True), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and re.fullmatch(r"[0-9]{1,19}", data.strip()):
            data = int(data)
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if data <= 0 or data.bit_length() > 63:
            self.fail("does_not_exist", pk_value=str(data)[:30])
        return super().to_internal_value(data)


def _check_json(value: Any, depth: int = 0) -> None:
    """Strings the database can store (no NUL, no lone surrogates), bounded nesting."""
    if depth > 20:
        raise serializers.ValidationError("Metadata is nested too deeply (20 levels at most).")
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError("Metadata cannot contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError("Metadata must be valid Unicode text.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(key, depth + 1)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


# --- serializers -----------------------------------------------------------------


class OrderSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="api:order-detail", lookup_field="order_ref"
    )
    event = EventField()
    preset = PresetField(required=False, allow_null=True)
    assigned_to = UserField(required=False, allow_null=True)
    created_by = serializers.PrimaryKeyRelatedField(read_only=True)
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    order_date = serializers.DateTimeField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=NOTES_MAX_LENGTH)
    metadata = serializers.JSONField(required=False)
    image_counts = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "url",
            "order_ref",
            "event",
            "customer_name",
            "customer_email",
            "order_date",
            "status",
            "notes",
            "preset",
            "assigned_to",
            "created_by",
            "image_counts",
            "ai_processed",
            "pmr_synced",
            "metadata",
            "created_at",
            "updated_at",
            "completed_at",
        ]
        read_only_fields = [
            "order_ref",
            "ai_processed",
            "pmr_synced",
            "created_at",
            "updated_at",
            "completed_at",
        ]

    def get_image_counts(self, order: Order) -> dict[str, int]:
        return {
            "total": order.total_images,
            "ingested": order.ingested_images,
            "processed": order.processed_images,
            "synced": order.synced_images,
            "rejected": order.rejected_images,
            "failed": order.failed_images,
            "needs_review": order.review_images,
        }

    def validate_metadata(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Metadata is a JSON object.")
        _check_json(value)
        if len(json.dumps(value)) > METADATA_MAX_CHARS:
            raise serializers.ValidationError(
                f"Metadata is limited to {METADATA_MAX_CHARS} characters of JSON."
            )
        return value

    def validate_status(self, value):
        if self.instance is None and value != Order.Status.DRAFT:
            raise serializers.ValidationError(
                "Orders are created as draft; change the status once the order exists."
            )
        return value

    def validate(self, attrs):
        if self.instance is not None:
            # Fields people may not edit after creation: sending the current value
            # (a GET body sent back with PUT) is fine, changing it is not.
            fixed = {"preset"} - services.EDITABLE_ORDER_FIELDS
            errors = {
                field: [f"The {field} cannot be changed after the order is created."]
                for field in fixed
                if field in attrs and attrs[field] != getattr(self.instance, field)
            }
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


class ImageSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.order_ref", read_only=True)

    class Meta:
        model = Image
        fields = [
            "id",
            "order",
            "original_filename",
            "file_size",
            "mime_type",
            "width",
            "height",
            "sha256",
            "status",
            "status_reason",
            "duplicate_of",
            "ingested_at",
            "ai_analyzed",
            "ai_metadata",
            "metadata",
            "pmr_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- access -------------------------------------------------------------------------


class OrderAccess(BasePermission):
    """The access rule, per endpoint.

    Every endpoint needs a signed-in user with access to orders at all (Viewer
    and up); creating needs the create permission. On one order, the access
    action follows the request: reading → view, PUT/PATCH → change,
    DELETE → delete, POST of an image → upload. Orders a user may not even
    see are 404 (the queryset is restricted), not 403.
    """

    #: (viewset action, HTTP method) → access action; anything else reading is ``view``.
    OBJECT_ACTIONS = {
        ("update", "PUT"): Action.CHANGE,
        ("partial_update", "PATCH"): Action.CHANGE,
        ("destroy", "DELETE"): Action.DELETE,
        ("images", "POST"): Action.UPLOAD,
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if access.order_scope(user, Action.VIEW) is None:
            self.message = "Your account has no access to orders."
            return False
        if view.action == "create" and not access.can_create_order(user):
            self.message = "You may not create orders."
            return False
        return True

    def required_action(self, request, view) -> Action:
        return self.OBJECT_ACTIONS.get((view.action, request.method), Action.VIEW)

    def has_object_permission(self, request, view, obj: Order) -> bool:
        wanted = self.required_action(request, view)
        if access.can(request.user, wanted, obj):
            return True
        self.message = f"You may not {wanted.value} order {obj.order_ref}."
        return False


# --- views ---------------------------------------------------------------------------


def _query_text(request, name: str, max_length: int) -> str | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError({name: [f"At most {max_length} characters."]})
    if "\x00" in value:
        raise ValidationError({name: ["NUL characters are not allowed."]})
    return value


class OrderViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Orders: list (``?status=``, ``?event=``, ``?search=``), create, read, edit, delete;
    ``images`` lists an order's images (GET) or adds one (POST, multipart)."""

    serializer_class = OrderSerializer
    permission_classes = [OrderAccess]
    pagination_class = OrderPagination
    lookup_field = "order_ref"
    lookup_value_regex = r"[A-Za-z0-9][A-Za-z0-9-]{0,39}"

    def get_queryset(self):
        queryset = Order.objects.restrict(self.request.user, Action.VIEW).select_related(
            "event", "preset"
        )
        if self.action != "list":
            return queryset
        statuses = _query_text(self.request, "status", 200)
        if statuses:
            wanted = [s.strip() for s in statuses.split(",") if s.strip()]
            unknown = [s for s in wanted if s not in Order.Status.values]
            if unknown:
                raise ValidationError(
                    {
                        "status": [
                            f"Unknown status '{unknown[0][:30]}'; one of "
                            f"{', '.join(Order.Status.values)}."
                        ]
                    }
                )
            queryset = queryset.filter(status__in=wanted)
        event_id = _query_text(self.request, "event", 50)
        if event_id:
            try:
                event_id_validator(event_id)
            except DjangoValidationError as exc:
                raise ValidationError({"event": exc.messages}) from None
            queryset = queryset.filter(event__event_id=event_id)
        term = _query_text(self.request, "search", SEARCH_MAX_LENGTH)
        if term:
            queryset = queryset.filter(
                Q(order_ref__icontains=term)
                | Q(customer_name__icontains=term)
                | Q(customer_email__icontains=term)
            )
        return queryset

    def get_object(self):
        queryset = self.get_queryset()
        ref = self.kwargs[self.lookup_field]
        order = queryset.filter(order_ref=ref).first()
        if order is None:
            raise NotFound(f"Order {ref} not found.")
        self.check_object_permissions(self.request, order)
        return order

    def perform_create(self, serializer):
        data = serializer.validated_data
        kwargs = {
            "actor": self.request.user,
            "event": data["event"],
            "customer_name": data["customer_name"],
            "customer_email": data.get("customer_email", ""),
            "notes": data.get("notes", ""),
            "assigned_to": data.get("assigned_to"),
            "order_date": data.get("order_date"),
            "metadata": data.get("metadata"),
            "preset": data.get("preset"),
        }
        serializer.instance = services.create_order(**kwargs)

    def perform_update(self, serializer):
        order: Order = serializer.instance
        user = self.request.user
        data = dict(serializer.validated_data)
        new_status = data.pop("status", None)
        assignee_sent = "assigned_to" in data
        assignee = data.pop("assigned_to", None)
        changes = {
            field: value
            for field, value in data.items()
            if field in services.EDITABLE_ORDER_FIELDS and getattr(order, field) != value
        }
        with transaction.atomic():
            if changes:
                order = services.update_order(order, actor=user, **changes)
            if assignee_sent and assignee != order.assigned_to:
                order = services.assign_order(order, assignee, actor=user)
            if new_status is not None and new_status != order.status:
                order = services.change_order_status(order, new_status, actor=user)
        # Read back with the same query as a GET (the services may return a bare row).
        serializer.instance = self.get_queryset().filter(pk=order.pk).first() or order

    def perform_destroy(self, instance):
        services.delete_order(instance, actor=self.request.user)

    @action(
        detail=True,
        methods=["get", "post"],
        url_path="images",
        parser_classes=[MultiPartParser],
        pagination_class=ImagePagination,
    )
    def images(self, request, order_ref=None):
        order = self.get_object()
        if request.method == "GET":
            queryset = Image.objects.restrict(request.user, Action.VIEW).filter(order=order)
            page = self.paginate_queryset(queryset.select_related("order"))
            return self.get_paginated_response(ImageSerializer(page, many=True).data)
        return self._add_image(request, order)

    def _add_image(self, request, order: Order) -> Response:
        files = request.FILES.getlist("file")
        others = sorted(name for name in request.FILES if name != "file")
        if len(files) != 1 or others:
            count = sum(len(request.FILES.getlist(name)) for name in request.FILES)
            raise ValidationError(
                {
                    "file": [
                        "Send exactly one file per request, in the multipart field 'file' "
                        f"(received {count})."
                    ]
                }
            )
        upload = files[0]
        image = intake.add_image(order, source=upload, filename=upload.name, actor=request.user)
        body = ImageSerializer(image).data
        if image.status == Image.Status.REJECTED:
            return error_response(
                status.HTTP_422_UNPROCESSABLE_ENTITY,
                "image_rejected",
                image.status_reason,
                {"image": body},
            )
        return Response(body, status=status.HTTP_201_CREATED)


router = SimpleRouter()
# Both /orders and /orders/ (no redirect: a POST must not bounce off APPEND_SLASH).
router.trailing_slash = "/?"
router.register("orders", OrderViewSet, basename="order")
