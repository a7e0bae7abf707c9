"""REST API of events: ``/api/v1/events`` and one event.

- ``GET /events``: any role (``events.view_event``), cursor pages, filters;
- ``POST /events``: Admin, Manager (``events.add_event``), honours ``Idempotency-Key``;
- ``GET /events/{event_id}``, ``PUT``/``PATCH``: read (any role), edit (Admin, Manager);
- ``GET /events/{event_id}/orders`` is ``orders.api.EventOrderViewSet`` (events know no orders).

Events are addressed by their Event ID (the PMR's), which is fixed once made.
Writes go through ``events.services``. See ``docs/api.md``, "Events".
"""

from __future__ import annotations

from django.db.models import Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.exceptions import NotFound
from rest_framework.routers import SimpleRouter

from accounts.idempotency import idempotent
from utilities.api.fields import FastIdentityField, JSONObjectField, checked_metadata
from utilities.api.filters import ChoiceInFilter, FilterBackend
from utilities.api.pagination import CursorOrdering, CursorPage
from utilities.api.permissions import BaseViewSet, Need
from utilities.api.schema import IDEMPOTENCY_KEY

from . import services
from .models import Event, event_id_validator

#: Largest ``metadata`` object of an event, serialised, in characters.
METADATA_MAX_CHARS = 32_000
#: Same shape as the URL converter below: what an Event ID may look like.
EVENT_ID_REGEX = r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}"


class EventPagination(CursorPage):
    ordering = ("-created_at", "-id")


# --- serializers ------------------------------------------------------------------


class EventSerializer(serializers.ModelSerializer):
    url = FastIdentityField(view_name="api:event-detail", lookup_field="event_id")
    event_id = serializers.CharField(
        max_length=50,
        validators=[event_id_validator],
        help_text="The event's ID in the PMR: letters, digits, `.-_`; fixed once created.",
    )
    event_type = serializers.ChoiceField(choices=Event.Type.choices, required=False)
    metadata = JSONObjectField(required=False)

    class Meta:
        model = Event
        fields = [
            "url",
            "event_id",
            "name",
            "date",
            "event_type",
            "customer_id",
            "pmr_validated",
            "pmr_validated_at",
            "metadata",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["pmr_validated", "pmr_validated_at", "created_at", "updated_at"]

    def validate_event_id(self, value: str) -> str:
        if self.instance is not None:
            if value != self.instance.event_id:
                raise serializers.ValidationError(
                    "The Event ID cannot be changed after the event is created."
                )
            return value
        if Event.objects.filter(event_id=value).exists():
            raise serializers.ValidationError(f"An event with the Event ID {value} exists.")
        return value

    def validate_metadata(self, value):
        return checked_metadata(value, METADATA_MAX_CHARS)

    def create(self, validated_data):
        return services.create_event(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        validated_data.pop("event_id", None)
        return services.update_event(instance, actor=self.context["request"].user, **validated_data)


# --- filters ------------------------------------------------------------------------


class EventFilter(filters.FilterSet):
    event_type = ChoiceInFilter(
        choices=Event.Type.choices, help_text="One or several, comma-separated."
    )
    date_after = filters.DateFilter(field_name="date", lookup_expr="gte", help_text="On or after.")
    date_before = filters.DateFilter(
        field_name="date", lookup_expr="lte", help_text="On or before."
    )
    pmr_validated = filters.BooleanFilter()
    search = filters.CharFilter(
        method="filter_search",
        max_length=100,
        help_text="Part of the Event ID, name or PMR customer ID, any case.",
    )

    class Meta:
        model = Event
        fields: list[str] = []

    def filter_search(self, queryset, name: str, value: str):
        term = value.strip()
        if not term:
            return queryset
        return queryset.filter(
            Q(event_id__icontains=term) | Q(name__icontains=term) | Q(customer_id__icontains=term)
        )


# --- access ---------------------------------------------------------------------------


def _has(permission: str, message: str) -> Need:
    return Need(lambda user: user.has_perm(permission), message)


#: Reading events needs ``events.view_event`` (every role); writing ``add``/``change_event``.
SEES_EVENTS = _has("events.view_event", "Your account has no access to events.")
EVENT_WRITES = {
    "POST": _has("events.add_event", "You may not create events."),
    "PUT": _has("events.change_event", "You may not change events."),
    "PATCH": _has("events.change_event", "You may not change events."),
}


# --- views ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List events", description="Cursor pages, newest first."),
    create=extend_schema(summary="Create an event (Admin, Manager)", parameters=[IDEMPOTENCY_KEY]),
    retrieve=extend_schema(summary="Read an event"),
    update=extend_schema(
        summary="Edit an event (Admin, Manager)",
        description="`event_id` may be sent but not changed.",
    ),
    partial_update=extend_schema(summary="Edit some fields of an event (Admin, Manager)"),
)
class EventViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    BaseViewSet,
):
    """Events, by Event ID."""

    serializer_class = EventSerializer
    pagination_class = EventPagination
    filter_backends = [FilterBackend, CursorOrdering]
    filterset_class = EventFilter
    ordering_fields = ["created_at", "event_id"]
    ordering = ["-created_at"]
    lookup_field = "event_id"
    lookup_value_regex = EVENT_ID_REGEX
    queryset = Event.objects.all()

    def needs_for(self, request):
        write = EVENT_WRITES.get(request.method)
        return (SEES_EVENTS, write) if write is not None else (SEES_EVENTS,)

    def object_action(self, request):
        return None  # events have no per-row rule: the role decides

    def get_object(self):
        event_id = self.kwargs[self.lookup_field]
        event = Event.objects.filter(event_id=event_id).first()
        if event is None:
            raise NotFound(f"Event {event_id} not found.")
        self.check_object_permissions(self.request, event)
        return event

    @idempotent()
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)


router = SimpleRouter()
router.trailing_slash = "/?"
router.register("events", EventViewSet, basename="event")
