"""REST API of notifications: ``/api/v1/notifications…`` (docs/api.md, "Notifications").

- ``GET /notifications``: the caller's notification centre, newest first (cursor pages;
  ``?unread=true`` for the unread ones);
- ``GET /notifications/summary``: what the bell shows (unread count, newest few), the
  same message the live sockets send;
- ``GET /notifications/{id}``; ``POST /notifications/{id}/read``;
  ``POST /notifications/read-all``;
- ``POST /notifications/subscriptions``: remember this browser for Web Push;
  ``POST /notifications/subscriptions/unsubscribe``: forget it.

Every signed-in user (session or API key) has a notification centre of their
own; nobody reaches another's: another user's notification, or one about an
order the access rule no longer lets them view, is 404
(``Notification.objects.for_user``). Writes go through ``notifications.services``.
"""

from __future__ import annotations

from django.urls import re_path
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from utilities.api.errors import JSONParser
from utilities.api.filters import FilterBackend
from utilities.api.pagination import CursorPage
from utilities.api.schema import error_responses

from . import live, push, services
from .models import Kind, Notification


class NotificationPagination(CursorPage):
    ordering = ("-created_at", "-id")


class NotificationSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField(help_text="Whether the user has marked it read.")
    kind = serializers.ChoiceField(choices=Kind.choices, read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "created_at", "read", "read_at"]
        read_only_fields = fields

    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class BellItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    title = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    url = serializers.CharField(help_text="Where it is seen or fixed (a path of this site).")
    open_url = serializers.CharField(help_text="Marks it read and redirects to `url`.")
    at = serializers.DateTimeField()
    at_label = serializers.CharField(help_text="The time as people read it.")
    read = serializers.BooleanField()
    in_app = serializers.BooleanField(help_text="Listed in the notification centre.")
    system = serializers.BooleanField(help_text="Wanted as a browser notification.")


class SummarySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["notifications"])
    unread = serializers.IntegerField(help_text="Unread notifications of the centre.")
    latest = BellItemSerializer(many=True, help_text="The newest few, newest first.")


class ReadAllSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread.")


class SubscriptionKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)


class SubscribeSerializer(serializers.Serializer):
    """What ``PushSubscription.toJSON()`` gives in the browser."""

    endpoint = serializers.URLField(max_length=1000)
    keys = SubscriptionKeysSerializer()
    expirationTime = serializers.IntegerField(required=False, allow_null=True, help_text="Ignored.")


class UnsubscribeSerializer(serializers.Serializer):
    endpoint = serializers.URLField(max_length=1000)


class SubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint = serializers.URLField()
    created_at = serializers.DateTimeField()


class NotificationFilter(filters.FilterSet):
    unread = filters.BooleanFilter(
        method="filter_unread", help_text="true: only unread; false: only read."
    )

    class Meta:
        model = Notification
        fields = ["unread"]

    def filter_unread(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(read_at__isnull=value)


@extend_schema_view(
    list=extend_schema(
        summary="My notifications",
        description="The caller's notification centre, newest first (cursor pages).",
    ),
    retrieve=extend_schema(summary="One of my notifications"),
)
class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = NotificationSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = NotificationPagination
    filter_backends = [FilterBackend]
    filterset_class = NotificationFilter
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return Notification.objects.for_user(self.request.user).in_app()

    @extend_schema(summary="Mark one notification read", request=None)
    @action(detail=True, methods=["post"], url_path="read")
    def read(self, request, pk=None):
        notification = services.mark_read(self.get_object(), actor=request.user)
        return Response(NotificationSerializer(notification).data)

    @extend_schema(
        summary="Mark all my notifications read", request=None, responses=ReadAllSerializer
    )
    @action(detail=False, methods=["post"], url_path="read-all", filter_backends=[])
    def read_all(self, request):
        return Response({"marked": services.mark_all_read(actor=request.user)})

    @extend_schema(
        summary="What the bell shows",
        description="The unread count and the newest few notifications: the message the live "
        "sockets send as `notifications` (docs/live.md), for polling.",
        responses=SummarySerializer,
    )
    @action(detail=False, methods=["get"], url_path="summary", filter_backends=[])
    def summary(self, request):
        return Response(live.bell_state(request.user))


class SubscriptionsView(APIView):
    """Remember this browser for Web Push (``PushSubscription.toJSON()`` of the page)."""

    permission_classes = (IsAuthenticated,)
    parser_classes = (JSONParser,)

    @extend_schema(
        summary="Send notifications to this browser (Web Push)",
        description="The browser's push subscription. The endpoint must belong to a push "
        "service the server sends to (`WEBPUSH_ALLOWED_HOSTS`); subscribing the same "
        "endpoint again updates it. 400 `push_off` when the server has no VAPID keys.",
        request=SubscribeSerializer,
        responses={
            201: SubscriptionSerializer,
            **error_responses(**{"415": "Not JSON (`unsupported_media_type`)."}),
        },
        tags=["notifications"],
    )
    def post(self, request):
        if not push.enabled():
            raise serializers.ValidationError(
                {"endpoint": ["Web Push is off on this server (no VAPID keys)."]},
                code="push_off",
            )
        body = SubscribeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            subscription = services.subscribe(
                request.user,
                endpoint=data["endpoint"],
                p256dh=data["keys"]["p256dh"],
                auth=data["keys"]["auth"],
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except ValueError as exc:
            raise serializers.ValidationError({"endpoint": [str(exc)]}) from None
        return Response(
            {
                "id": subscription.pk,
                "endpoint": subscription.endpoint,
                "created_at": subscription.created_at,
            },
            status=status.HTTP_201_CREATED,
        )


class UnsubscribeView(APIView):
    """Forget this browser's push subscription (if it is the caller's)."""

    permission_classes = (IsAuthenticated,)
    parser_classes = (JSONParser,)

    @extend_schema(
        summary="Stop sending notifications to this browser",
        request=UnsubscribeSerializer,
        responses={
            204: None,
            **error_responses(**{"415": "Not JSON (`unsupported_media_type`)."}),
        },
        tags=["notifications"],
    )
    def post(self, request):
        body = UnsubscribeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.unsubscribe(request.user, endpoint=body.validated_data["endpoint"])
        return Response(status=status.HTTP_204_NO_CONTENT)


router = SimpleRouter()
router.trailing_slash = "/?"
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    re_path(
        r"^notifications/subscriptions/?$",
        SubscriptionsView.as_view(),
        name="notification-subscriptions",
    ),
    re_path(
        r"^notifications/subscriptions/unsubscribe/?$",
        UnsubscribeView.as_view(),
        name="notification-unsubscribe",
    ),
    *router.urls,
]
