"""The PMR endpoints of the REST API (``/api/v1/pmr/...``) and the PMR's webhook.

Thin: access through ``utilities.access``, work in ``pmr.services`` / ``lookups`` /
tasks. The webhook is the one endpoint without a user: the PMR proves itself
with an HMAC signature over the raw body and a fresh timestamp.
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from events import lookups
from events.models import event_id_validator
from orders.models import Order
from pmr.clients import PMRError, WebhookVerificationError, verify
from utilities import access
from utilities.api.errors import JSONParser, error_response
from utilities.api.permissions import SEES_ORDERS, BaseAPIView, Need

from . import connection, services, status, tasks
from .models import OutboxEntry

log = logging.getLogger(__name__)
Action = access.Action
MAX_WEBHOOK_BYTES = 64 * 1024


def _both(name: str, fields: dict) -> dict:
    """The same body for 200 and 503 (an answer about the PMR, also when it is down)."""
    body = inline_serializer(name, fields)
    return {200: body, 503: body}


MANAGES = Need(access.can_review, "Only managers may do this.")


class _PmrView(BaseAPIView):
    """Any role that sees orders; ``needs`` adds what a view asks more."""

    parser_classes = [JSONParser]


class UploadSerializer(serializers.Serializer):
    order = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9-]*\Z", max_length=40)


class UploadView(_PmrView):
    """Queue an order's PMR upload now (failed writes again; a finished order's delivery)."""

    # Any role that sees orders: the order's own rule (process) is checked by the service.

    @extend_schema(
        request=UploadSerializer,
        responses=inline_serializer(
            "PmrUploadQueued",
            {"order": serializers.CharField(), "queued": serializers.IntegerField()},
        ),
    )
    def post(self, request):
        data = UploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = (
            Order.objects.visible_to(request.user)
            .filter(order_ref=data.validated_data["order"])
            .first()
        )
        if order is None:
            return error_response(404, "not_found", "No such order.")
        queued = services.queue_upload(order, actor=request.user)
        return Response({"order": order.order_ref, "queued": queued}, status=202)


class ValidateView(_PmrView):
    """What the PMR says of an Event ID (cached for an hour)."""

    @extend_schema(
        parameters=[OpenApiParameter("event_id", str, required=True)],
        description="200 with the PMR's answer; 503 with the same body (`reachable: false`) "
        "when the PMR cannot be asked (down, or its circuit is open).",
        responses=_both(
            "PmrEventCheck",
            {
                "event_id": serializers.CharField(),
                "reachable": serializers.BooleanField(),
                "found": serializers.BooleanField(),
                "open": serializers.BooleanField(),
                "name": serializers.CharField(),
                "date": serializers.CharField(allow_null=True),
                "type": serializers.CharField(),
                "customer_id": serializers.CharField(allow_null=True),
                "cached": serializers.BooleanField(),
            },
        ),
    )
    def get(self, request):
        event_id = request.query_params.get("event_id", "").strip()
        try:
            event_id_validator(event_id)
        except ValidationError:
            return error_response(
                400, "invalid", "event_id must be an Event ID (letters, digits, . _ -)."
            )
        check = lookups.check_event(event_id)
        body = check.as_dict()
        return Response(body, status=200 if check.reachable else 503)


class SyncView(_PmrView):
    """Pull the PMR's changes now (as the scheduled pull does)."""

    needs = (SEES_ORDERS, MANAGES)

    @extend_schema(
        request=None,
        responses={202: inline_serializer("PmrSyncQueued", {"queued": serializers.BooleanField()})},
    )
    def post(self, request):
        tasks.pull_updates.delay()
        return Response({"queued": True}, status=202)


class HealthView(_PmrView):
    """The PMR's reachability, the shared circuit and the outbox backlog.

    Managers and Admins only: the answer names the PMR's address and counts every order's
    waiting writes, which is nothing a User or a Viewer needs (their orders' pages say how
    their own deliveries stand).
    """

    needs = (SEES_ORDERS, MANAGES)

    @extend_schema(
        description="200 when the PMR answers its health call; 503 with the same body when not.",
        responses=_both(
            "PmrHealth", {"pmr": serializers.DictField(), "outbox": serializers.DictField()}
        ),
    )
    def get(self, request):
        breaker = connection.breaker().state(connection.BREAKER_NAME)
        started = time.monotonic()
        try:
            answer = lookups.health()
            reachable, detail = True, answer
        except PMRError as exc:
            reachable, detail = False, {"error": str(exc)}
        rows = OutboxEntry.objects.exclude(state__in=OutboxEntry.FINAL)
        body = {
            "pmr": {
                "base_url": settings.PMR_BASE_URL,
                "reachable": reachable,
                "answer": detail,
                "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
                "circuit": breaker,
            },
            "outbox": {
                "pending": rows.filter(state=OutboxEntry.State.PENDING).count(),
                "failed": rows.filter(state=OutboxEntry.State.FAILED).count(),
                "orders_waiting": rows.values("order_id").distinct().count(),
            },
        }
        return Response(body, status=200 if reachable else 503)


class WebhookView(APIView):
    """``POST /api/v1/pmr/webhook``: the PMR tells us it changed an order.

    Refused with 401: a bad or missing signature (it covers the timestamp, the delivery id
    and the body), a timestamp more than ``PMR_WEBHOOK_TOLERANCE_SECONDS`` off; with 400: a
    ``changed_at`` further ahead than that; with 503 while no secret is configured. A
    repeated ``X-PMR-Delivery`` is answered 200 and changes nothing. An unknown order: 404,
    nothing stored.
    Otherwise the delivery is stored and applied by a task: 202 at once.
    """

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()
    parser_classes = ()

    @extend_schema(
        request=inline_serializer(
            "PmrWebhook",
            {
                "order_ref": serializers.CharField(),
                "status": serializers.CharField(),
                "status_reason": serializers.CharField(allow_null=True, required=False),
                "changed_at": serializers.DateTimeField(required=False),
            },
        ),
        responses={
            202: inline_serializer("PmrWebhookAccepted", {"status": serializers.CharField()}),
            200: inline_serializer("PmrWebhookRepeat", {"status": serializers.CharField()}),
        },
        auth=[],
    )
    def post(self, request):
        raw = request._request.body  # the bytes as sent: the signature is over them
        if len(raw) > MAX_WEBHOOK_BYTES:
            return error_response(413, "too_large", "The webhook body is too large.")
        tolerance = settings.PMR_WEBHOOK_TOLERANCE_SECONDS
        try:
            verify(
                settings.PMR_WEBHOOK_SECRET,
                request.headers.get("X-PMR-Timestamp"),
                request.headers.get("X-PMR-Signature"),
                raw,
                request.headers.get("X-PMR-Delivery"),
                tolerance=tolerance,
            )
        except WebhookVerificationError as exc:
            if exc.reason == "not_configured":  # the PMR retries; production refuses to start
                return error_response(503, "unavailable", "The webhook is not configured yet.")
            return error_response(401, "invalid_signature", str(exc), {"reason": exc.reason})
        delivery_id = request.headers["X-PMR-Delivery"].strip()  # verified: 1-100 characters
        event = (request.headers.get("X-PMR-Event") or "").strip()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "invalid_json", "The body is not JSON.")
        if not isinstance(body, dict) or not isinstance(body.get("order_ref"), str):
            return error_response(400, "invalid", "The body must name an order_ref.")
        if status.changed_at_too_far_ahead(body, tolerance):
            return error_response(
                400,
                "invalid",
                f"changed_at is more than {tolerance} seconds ahead of this server's clock.",
                {"fields": ["changed_at"]},
            )
        outcome = status.accept_webhook(delivery_id, event, body)
        if outcome == status.UNKNOWN_ORDER:
            return error_response(404, "not_found", "No order with this order_ref.")
        return Response({"status": outcome}, status=202 if outcome == status.ACCEPTED else 200)


urlpatterns = [
    path("pmr/upload", UploadView.as_view(), name="pmr-upload"),
    path("pmr/validate", ValidateView.as_view(), name="pmr-validate"),
    path("pmr/sync", SyncView.as_view(), name="pmr-sync"),
    path("pmr/health", HealthView.as_view(), name="pmr-health"),
    path("pmr/webhook", WebhookView.as_view(), name="pmr-webhook"),
]
