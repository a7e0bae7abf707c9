"""REST API of orders: ``/api/v1/orders``, each order's images and history.

Thin, like the pages: reads go through the access rule
(``Order.objects.restrict(user, action)``, ``access.can``), writes through
``orders.services`` and ``orders.intake``. Errors are shaped by
``utilities.api.errors``; creates honour ``Idempotency-Key``
(``accounts.idempotency``). See ``docs/api.md`` for the endpoints.
"""

from __future__ import annotations

import re
from typing import Any

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_slug
from django.db.models import Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.idempotency import idempotent
from accounts.models import User
from events import lookups
from events.api import EVENT_ID_REGEX, SEES_EVENTS
from events.models import Event, event_id_validator
from utilities import access
from utilities.api.errors import JSONParser, error_response
from utilities.api.fields import (
    FastIdentityField,
    JSONObjectField,
    checked_metadata,
    identity_url,
    iso_datetime,
    representation_timezone,
)
from utilities.api.filters import ChoiceInFilter, FilterBackend, IdFilter, UTCDateTimeFilter
from utilities.api.pagination import CursorOrdering, CursorPage
from utilities.api.permissions import SEES_ORDERS, BaseViewSet, Need, may
from utilities.api.schema import IDEMPOTENCY_KEY, error_responses
from utilities.errors import OrderError

from . import intake, pipeline, presets, services
from .models import Image, Order, customer_email_q

Action = access.Action

#: Longest free-text note an order takes through the API.
NOTES_MAX_LENGTH = 10_000
#: Longest ``?search=`` term.
SEARCH_MAX_LENGTH = 100
#: The most files an order may announce (``expected_images``).
MAX_EXPECTED_IMAGES = 100_000


# --- pagination -----------------------------------------------------------------


class OrderPagination(CursorPage):
    ordering = ("-created_at", "-id")


class ImagePagination(CursorPage):
    ordering = ("id",)


class HistoryPagination(CursorPage):
    ordering = ("-timestamp", "-id")


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


@extend_schema_field({"type": "string", "example": "WED-2025-0142"})
class EventField(serializers.Field):
    """An Event ID: shown for the order's event; on writes only its shape is checked here,
    and ``services.create_order`` / ``update_order`` resolve it (registered here, or brought
    over from the PMR), so a refused request writes no event."""

    default_error_messages = {
        "does_not_exist": "Unknown Event ID “{value}”.",
        "invalid": 'An Event ID is a string, e.g. "WED-2025-0142".',
    }

    def to_representation(self, event: Event) -> str:
        return event.event_id

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = data.strip()
        if not lookups.well_formed(value):
            self.fail("does_not_exist", value=value[:60])
        return value


class PresetField(_CheckedSlugField):
    default_error_messages = {
        "does_not_exist": "Unknown or inactive processing preset '{value}'.",
        "invalid": "A preset is given by its slug, a string.",
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=presets.active(), **kwargs)


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


# --- serializers -----------------------------------------------------------------


@extend_schema_field(
    {"anyOf": [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}]}
)
class OptionalEmailField(serializers.EmailField):
    """An e-mail address or ``""`` (documented as either, so an empty one matches the schema)."""


@extend_schema_field(
    {"anyOf": [{"type": "string", "format": "uri"}, {"type": "string", "maxLength": 0}]}
)
class OptionalURLField(serializers.URLField):
    """A URL or ``""`` (an image's PMR URL before it is delivered)."""


class ImageCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    ingested = serializers.IntegerField()
    processed = serializers.IntegerField()
    synced = serializers.IntegerField()
    rejected = serializers.IntegerField()
    failed = serializers.IntegerField()
    needs_review = serializers.IntegerField()


class OrderSerializer(serializers.ModelSerializer):
    url = FastIdentityField(view_name="api:order-detail", lookup_field="order_ref")
    event = EventField()
    customer_email = OptionalEmailField(required=False, allow_blank=True, max_length=255)
    preset = PresetField(required=False, allow_null=True)
    assigned_to = UserField(required=False, allow_null=True)
    created_by = serializers.PrimaryKeyRelatedField(read_only=True)
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    order_date = serializers.DateTimeField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=NOTES_MAX_LENGTH)
    metadata = JSONObjectField(required=False)
    image_counts = serializers.SerializerMethodField()
    expected_images = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_EXPECTED_IMAGES,
        help_text="How many files the client will send; the order starts once that many "
        "arrived (or when it is submitted). Set at creation only.",
    )
    awaiting_submit = serializers.BooleanField(
        read_only=True,
        help_text="The order waits in pending for POST …/submit (or expected_images files).",
    )
    submitted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    approval_due_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="While the order awaits approval: when it is approved by itself if nobody "
        "objects (null: it waits for a person).",
    )
    approval_owner_may_approve = serializers.BooleanField(
        read_only=True,
        help_text="While the order awaits approval: its creator or assignee may approve it.",
    )

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
            "expected_images",
            "awaiting_submit",
            "submitted_at",
            "approval_due_at",
            "approval_owner_may_approve",
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

    def to_representation(self, order: Order) -> dict[str, Any]:
        """The order as DRF's generic path would write it, field by field, by hand.

        Half of a list page's CPU went to DRF walking 23 fields of 50 rows; this writes the
        same dictionary (``tests/orders/api/test_representation.py`` compares the two).
        """
        tz = representation_timezone()
        return {
            "url": identity_url(
                self.context,
                "api:order-detail",
                "order_ref",
                order.order_ref,
                self.context.get("format"),
            ),
            "order_ref": order.order_ref,
            "event": order.event.event_id,
            "customer_name": order.customer_name,
            "customer_email": order.customer_email,
            "order_date": iso_datetime(order.order_date, tz),
            "status": str(order.status),
            "notes": order.notes,
            "preset": order.preset.slug if order.preset_id is not None else None,
            "assigned_to": order.assigned_to_id,
            "created_by": order.created_by_id,
            "image_counts": self.get_image_counts(order),
            "expected_images": order.expected_images,
            "awaiting_submit": order.awaiting_submit,
            "submitted_at": iso_datetime(order.submitted_at, tz),
            "approval_due_at": iso_datetime(order.approval_due_at, tz),
            "approval_owner_may_approve": order.approval_owner_may_approve,
            "ai_processed": order.ai_processed,
            "pmr_synced": order.pmr_synced,
            "metadata": order.metadata,
            "created_at": iso_datetime(order.created_at, tz),
            "updated_at": iso_datetime(order.updated_at, tz),
            "completed_at": iso_datetime(order.completed_at, tz),
        }

    @extend_schema_field(ImageCountsSerializer)
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
        value = checked_metadata(value)
        current = self.instance.metadata if self.instance is not None else None
        try:  # the service refuses it too (the admin and the pages edit through it)
            services.client_metadata(value, current=current)
        except OrderError as exc:
            raise serializers.ValidationError(str(exc)) from exc
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
            fixed = {"preset", "expected_images"} - services.EDITABLE_ORDER_FIELDS
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
    ai_metadata = JSONObjectField(read_only=True)
    metadata = JSONObjectField(read_only=True)
    pmr_url = OptionalURLField(read_only=True)

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
            "approved_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, image: Image) -> dict[str, Any]:
        """The image as DRF's generic path would write it, by hand (as ``OrderSerializer``)."""
        tz = representation_timezone()
        return {
            "id": image.id,
            "order": image.order.order_ref,
            "original_filename": image.original_filename,
            "file_size": image.file_size,
            "mime_type": image.mime_type,
            "width": image.width,
            "height": image.height,
            "sha256": image.sha256,
            "status": str(image.status),
            "status_reason": image.status_reason,
            "duplicate_of": image.duplicate_of_id,
            "ingested_at": iso_datetime(image.ingested_at, tz),
            "ai_analyzed": image.ai_analyzed,
            "ai_metadata": image.ai_metadata,
            "metadata": image.metadata,
            "pmr_url": image.pmr_url,
            "approved_at": iso_datetime(image.approved_at, tz),
            "created_at": iso_datetime(image.created_at, tz),
            "updated_at": iso_datetime(image.updated_at, tz),
        }


class DeliverWithoutFailedSerializer(serializers.Serializer):
    """The body of ``POST …/deliver-without-failed`` (optional)."""

    note = serializers.CharField(
        required=False, allow_blank=True, max_length=500, default="", help_text="Why (kept)."
    )


class ImageUploadSerializer(serializers.Serializer):
    """The request of ``POST …/images``: one file, in the multipart field ``file``."""

    file = serializers.FileField()


class ActorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class HistoryEntrySerializer(serializers.Serializer):
    """One audit-log entry of an order (django-auditlog), newest first."""

    id = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    action = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()

    ACTIONS = {
        LogEntry.Action.CREATE: "create",
        LogEntry.Action.UPDATE: "update",
        LogEntry.Action.DELETE: "delete",
        LogEntry.Action.ACCESS: "access",
    }

    @extend_schema_field({"type": "string", "enum": ["create", "update", "delete", "access"]})
    def get_action(self, entry: LogEntry) -> str:
        return self.ACTIONS.get(entry.action, str(entry.action))

    @extend_schema_field(ActorSerializer(allow_null=True))
    def get_actor(self, entry: LogEntry) -> dict[str, Any] | None:
        actor = entry.actor
        if actor is None:
            return None
        return {"id": actor.pk, "username": actor.username, "display_name": str(actor)}

    @extend_schema_field(
        {
            "type": "object",
            "description": "Field name → `[old, new]` (as text, as the audit log keeps them).",
            "additionalProperties": True,
        }
    )
    def get_changes(self, entry: LogEntry) -> dict[str, Any]:
        changes = entry.changes_dict
        return changes if isinstance(changes, dict) else {}


# --- filters ----------------------------------------------------------------------


class OrderFilter(filters.FilterSet):
    status = ChoiceInFilter(
        choices=Order.Status.choices, help_text="One or several, comma-separated."
    )
    event = filters.CharFilter(
        field_name="event__event_id",
        max_length=50,
        validators=[event_id_validator],
        help_text="Event ID, exact.",
    )
    search = filters.CharFilter(
        method="filter_search",
        max_length=SEARCH_MAX_LENGTH,
        help_text="Part of the order reference, any case, or a customer's whole e-mail address "
        "(customer names are stored encrypted and cannot be searched).",
    )
    customer_email = filters.CharFilter(
        method="filter_customer_email",
        max_length=255,
        help_text="The customer's whole e-mail address, any case.",
    )
    assigned_to = IdFilter(field_name="assigned_to_id", help_text="User id.")
    created_by = IdFilter(field_name="created_by_id", help_text="User id.")
    preset = filters.CharFilter(field_name="preset__slug", max_length=100)
    ai_processed = filters.BooleanFilter()
    pmr_synced = filters.BooleanFilter()
    created_after = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="gte", param="created_after"
    )
    created_before = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="lt", param="created_before"
    )
    order_date_after = UTCDateTimeFilter(
        field_name="order_date", lookup_expr="gte", param="order_date_after"
    )
    order_date_before = UTCDateTimeFilter(
        field_name="order_date", lookup_expr="lt", param="order_date_before"
    )

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_search(self, queryset, name: str, value: str):
        term = value.strip()
        if not term:
            return queryset
        return queryset.filter(Q(order_ref__icontains=term) | customer_email_q(term))

    def filter_customer_email(self, queryset, name: str, value: str):
        return queryset.for_customer_email(value) if value.strip() else queryset


class ImageFilter(filters.FilterSet):
    status = ChoiceInFilter(
        choices=Image.Status.choices, help_text="One or several, comma-separated."
    )

    class Meta:
        model = Image
        fields: list[str] = []


# --- access -------------------------------------------------------------------------


#: (viewset action, HTTP method) → the access action one order is checked for; anything
#: else reading is ``view``. Orders a user may not even see are 404 (the queryset is
#: restricted), not 403.
ORDER_ACTIONS = {
    ("update", "PUT"): Action.CHANGE,
    ("partial_update", "PATCH"): Action.CHANGE,
    ("destroy", "DELETE"): Action.DELETE,
    ("submit", "POST"): Action.UPLOAD,  # "this is all": part of sending the files
    ("deliver_without_failed", "POST"): Action.REVIEW,
}
MAY_CREATE_ORDERS = Need(access.can_create_order, "You may not create orders.")
MAY_ADD_IMAGES = may(Action.UPLOAD, "You may not add images to orders.")


# --- views ---------------------------------------------------------------------------

ORDER_REF_REGEX = r"[A-Za-z0-9][A-Za-z0-9-]{0,39}"


def _visible_order(request, ref: str) -> Order:
    # get(), not first(): the reference is unique, and first()'s ORDER BY was a tenth of
    # the query's compile time on every request naming an order.
    visible = Order.objects.restrict(request.user, Action.VIEW).select_related("event", "preset")
    try:
        return visible.get(order_ref=ref)
    except Order.DoesNotExist:
        raise NotFound(f"Order {ref} not found.") from None


@extend_schema_view(
    list=extend_schema(summary="List orders", description="Cursor pages, newest first."),
    create=extend_schema(
        summary="Create an order",
        parameters=[IDEMPOTENCY_KEY],
        description="New orders are `draft`. A User may assign only to themselves.",
    ),
    retrieve=extend_schema(summary="Read an order"),
    update=extend_schema(
        summary="Edit an order",
        description="Needs `event` and `customer_name`; changes the fields sent. A `status` "
        "goes through the state machine (409 `transition_not_allowed`).",
    ),
    partial_update=extend_schema(summary="Edit some fields of an order"),
    destroy=extend_schema(
        summary="Delete an order (Admin)",
        description="Never an order of which anything reached the PMR (409).",
    ),
)
class OrderViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    BaseViewSet,
):
    """Orders: list (filters, ``?ordering=``), create, read, edit, delete; ``history``."""

    queryset = Order.objects.select_related("event", "preset")
    object_actions = ORDER_ACTIONS
    serializer_class = OrderSerializer
    pagination_class = OrderPagination
    filter_backends = [FilterBackend, CursorOrdering]
    filterset_class = OrderFilter
    ordering_fields = ["created_at", "order_date"]
    ordering = ["-created_at"]
    lookup_field = "order_ref"
    lookup_value_regex = ORDER_REF_REGEX

    def needs_for(self, request):
        return (SEES_ORDERS, MAY_CREATE_ORDERS) if self.action == "create" else (SEES_ORDERS,)

    def get_object(self):
        order = _visible_order(self.request, self.kwargs[self.lookup_field])
        self.check_object_permissions(self.request, order)
        return order

    @idempotent()
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

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
            # An external system sends the files: the order waits for its submit (docs/api.md).
            "awaiting_submit": True,
            "expected_images": data.get("expected_images"),
        }
        serializer.instance = services.create_order(**kwargs)

    def perform_update(self, serializer):
        order = services.edit_order(
            serializer.instance, actor=self.request.user, changes=serializer.validated_data
        )
        # Read back with the same query as a GET (the services may return a bare row).
        serializer.instance = self.get_queryset().filter(pk=order.pk).first() or order

    def perform_destroy(self, instance):
        services.delete_order(instance, actor=self.request.user)

    @extend_schema(
        summary="Say every file is sent: the order may start",
        description="An order made through the API waits in `pending` until its client "
        "submits it (or until as many files as its `expected_images` arrived), however long "
        "the client takes between two files. Once every file is ingested the order moves to "
        "`processing`. Idempotent: submitting again changes nothing. Needs the upload right "
        "on the order; 409 on a completed or cancelled order.",
        request=None,
        responses={200: OrderSerializer, **error_responses(**{"409": "The order is closed."})},
    )
    @action(detail=True, methods=["post"], url_path="submit", filter_backends=[])
    def submit(self, request, order_ref=None):
        order = self.get_object()
        intake.submit_order(order, actor=request.user)
        return Response(self._fresh(order))

    @extend_schema(
        summary="Deliver the order without its failed images (Manager, Admin)",
        description="A person decides: every failed image is left out (it becomes "
        "`rejected`, with who decided), the order's timeline records it "
        "(`order.partial_delivery`) and the order goes on to the PMR, which is told to "
        "expect only the images delivered. 409 when no image failed, when images are still "
        "being worked on, or when nothing would be left to deliver.",
        request=DeliverWithoutFailedSerializer,
        responses={200: OrderSerializer, **error_responses(**{"409": "Nothing to decide now."})},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="deliver-without-failed",
        filter_backends=[],
        parser_classes=[JSONParser],
    )
    def deliver_without_failed(self, request, order_ref=None):
        order = self.get_object()
        body = DeliverWithoutFailedSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        pipeline.deliver_without_failed(order, request.user, note=body.validated_data["note"])
        return Response(self._fresh(order))

    def _fresh(self, order: Order) -> dict[str, Any]:
        current = self.get_queryset().filter(pk=order.pk).first() or order
        return OrderSerializer(current, context=self.get_serializer_context()).data

    @extend_schema(
        summary="An order's history (audit log)",
        description="Every recorded change of the order itself, newest first, from the audit "
        "log: who, when, which fields from what to what. Image steps are in the timeline.",
        responses=HistoryEntrySerializer(many=True),
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="history",
        pagination_class=HistoryPagination,
        filter_backends=[],
    )
    def history(self, request, order_ref=None):
        order = self.get_object()
        entries = LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Order), object_id=order.pk
        ).select_related("actor")
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List an order's images", description="Cursor pages, oldest first."),
    retrieve=extend_schema(summary="Read one image of an order"),
    create=extend_schema(
        summary="Add one image to an order",
        description="`multipart/form-data` with exactly one file in the field `file`. The file "
        "goes through intake like a browser upload; ingest follows in the background.",
        request={"multipart/form-data": ImageUploadSerializer},
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: ImageSerializer,
            **error_responses(
                **{
                    "415": "Not `multipart/form-data` (`unsupported_media_type`).",
                    "422": "Intake refused the file (`image_rejected`): empty, too large or an "
                    "exact duplicate; the rejected image is in `details.image`.",
                }
            ),
        },
    ),
)
class OrderImageViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    BaseViewSet,
):
    """An order's images: list, read one, add one file (multipart)."""

    # Not select_related("order"): every image is of the one order the URL names, loaded
    # once (``get_order``); joining it again per row decrypted its customer fields 50 times.
    queryset = Image.objects.all()
    serializer_class = ImageSerializer
    pagination_class = ImagePagination
    parser_classes = [MultiPartParser]
    filter_backends = [FilterBackend, CursorOrdering]
    filterset_class = ImageFilter
    ordering_fields = ["id"]
    ordering = ["id"]
    lookup_value_regex = r"[0-9]{1,18}"

    def needs_for(self, request):
        return (SEES_ORDERS, MAY_ADD_IMAGES) if self.action == "create" else (SEES_ORDERS,)

    def object_action(self, request):
        return None  # the order is checked by the service that adds the image

    def get_order(self) -> Order:
        if not hasattr(self, "_order"):
            self._order = _visible_order(self.request, self.kwargs["order_ref"])
        return self._order

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request data
            return Image.objects.none()
        return super().get_queryset().filter(order=self.get_order())

    def get_object(self):
        image = self.get_queryset().filter(pk=int(self.kwargs["pk"])).first()
        if image is None:
            raise NotFound(f"Image {self.kwargs['pk']} not found in order {self.get_order()}.")
        image.order = self.get_order()
        return image

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        order = self.get_order()
        for image in page or ():
            image.order = order  # the serializer's ``order.order_ref``: no query, no decrypt
        return page

    @idempotent(also_store=(status.HTTP_422_UNPROCESSABLE_ENTITY,))
    def create(self, request, *args, **kwargs):
        order = self.get_order()
        self.check_object_permissions(request, order)
        files = request.FILES.getlist("file")
        others = sorted(name for name in request.FILES if name != "file")
        if len(files) != 1 or others:
            count = sum(len(request.FILES.getlist(name)) for name in request.FILES)
            raise serializers.ValidationError(
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


@extend_schema_view(
    list=extend_schema(
        summary="An event's orders",
        description="The orders of this event the user may see, newest first; same filters "
        "and ordering as `GET /orders`.",
        parameters=[
            OpenApiParameter("event_id", str, OpenApiParameter.PATH, pattern=EVENT_ID_REGEX)
        ],
    )
)
class EventOrderViewSet(mixins.ListModelMixin, BaseViewSet):
    """``GET /events/{event_id}/orders``: beside the order list (events know nothing of
    orders); reading needs what reading events needs (``EventAccess``), then the access
    rule narrows the orders as everywhere."""

    queryset = Order.objects.select_related("event", "preset")
    needs = (SEES_EVENTS,)
    serializer_class = OrderSerializer
    pagination_class = OrderPagination
    filter_backends = [FilterBackend, CursorOrdering]
    filterset_class = OrderFilter
    ordering_fields = ["created_at", "order_date"]
    ordering = ["-created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema: no event, no user
            return Order.objects.none()
        event_id = self.kwargs["event_id"]
        event = Event.objects.filter(event_id=event_id).first()
        if event is None:
            raise NotFound(f"Event {event_id} not found.")
        return super().get_queryset().filter(event=event)


router = SimpleRouter()
# Both /orders and /orders/ (no redirect: a POST must not bounce off APPEND_SLASH).
router.trailing_slash = "/?"
router.register("orders", OrderViewSet, basename="order")
router.register(
    rf"events/(?P<event_id>{EVENT_ID_REGEX})/orders", EventOrderViewSet, basename="event-order"
)
router.register(
    rf"orders/(?P<order_ref>{ORDER_REF_REGEX})/images", OrderImageViewSet, basename="order-image"
)
