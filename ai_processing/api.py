"""REST API of the AI step: ``/api/v1/ai/…``.

- ``POST ai/process``: queue an order's AI work (``services.request_processing``);
- ``POST ai/analyze``, ``POST ai/generate``: one image through the provider chain, now;
- ``GET ai/models``: the configured providers, in order, and the active presets;
- ``GET ai/status``: each provider's circuit and the depth of the Celery ``ai`` queue.

Same access rule as the orders API (``utilities.access``), same error shape
(``utilities.api.errors``). See ``docs/api.md``, "AI endpoints".
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from orders.api import PresetField
from orders.models import Image, Order
from utilities import access
from utilities.api.errors import JSONParser, error_response
from utilities.api.permissions import SEES_ORDERS, BaseAPIView, Need, may
from utilities.api.schema import error_responses

from . import services
from . import status as ai_status
from .models import ProcessingPreset
from .providers.chain import NoProviderAvailable
from .providers.local import LocalProvider
from .providers.registry import PROVIDER_FACTORIES

log = logging.getLogger(__name__)

Action = access.Action

#: Most image ids one ``process`` request may name.
MAX_IMAGES = 1000
#: Longest free-text prompt for ``generate``.
PROMPT_MAX_LENGTH = 2000
_MAX_ID = 2**63 - 1


# --- access ---------------------------------------------------------------------------


MAY_PROCESS = may(Action.PROCESS, "You may not run AI processing.")
SEES_AI_STATUS = Need(access.can_view_analytics, "You may not see the AI status.")


class _AiView(BaseAPIView):
    """Any role that sees orders reads; ``needs`` adds what a view asks more."""

    parser_classes = [JSONParser]


# --- serializers ----------------------------------------------------------------------


class _ImageId(serializers.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=_MAX_ID, **kwargs)


class _Text(serializers.CharField):
    """A string, and only a string (DRF would take ``5`` as ``"5"``)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ProcessSerializer(serializers.Serializer):
    order = _Text(
        max_length=40,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9-]*\Z", "Not an order reference.")],
    )
    preset = PresetField(required=False)
    images = serializers.ListField(
        child=_ImageId(), required=False, allow_empty=False, max_length=MAX_IMAGES
    )


class ImageOperationSerializer(serializers.Serializer):
    image = _ImageId()
    prompt = _Text(
        required=False, allow_blank=True, trim_whitespace=True, max_length=PROMPT_MAX_LENGTH
    )


# Answers, for the OpenAPI schema (the views build plain dicts).


class ProcessResponseSerializer(serializers.Serializer):
    order = serializers.CharField()
    status = serializers.CharField(help_text="The order's status after the request.")
    queued = serializers.IntegerField(help_text="Images queued for the AI step.")


class TrailEntrySerializer(serializers.Serializer):
    provider = serializers.CharField()
    outcome = serializers.CharField(help_text="`ok`, `error`, `skipped`, …")
    reason = serializers.CharField(allow_blank=True)
    elapsed_ms = serializers.FloatField()


class AnalyzeResultSerializer(serializers.Serializer):
    facts = serializers.DictField(help_text="Quality and content facts (sharpness, exposure…).")
    model = serializers.CharField()
    cost = serializers.FloatField()


class CaptionResultSerializer(serializers.Serializer):
    caption = serializers.CharField(allow_blank=True)
    alt_text = serializers.CharField(allow_blank=True)
    keywords = serializers.ListField(child=serializers.CharField())
    model = serializers.CharField()
    cost = serializers.FloatField()


class _OneImageResponse(serializers.Serializer):
    image = serializers.IntegerField()
    order = serializers.CharField()
    operation = serializers.CharField()
    trail = TrailEntrySerializer(many=True)


class AnalyzeResponseSerializer(_OneImageResponse):
    result = AnalyzeResultSerializer()


class GenerateResponseSerializer(_OneImageResponse):
    result = CaptionResultSerializer()


class ProviderSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    name = serializers.CharField()
    model = serializers.CharField(allow_null=True)
    available = serializers.BooleanField()


class PresetSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    operations = serializers.ListField(child=serializers.CharField())


class ModelsResponseSerializer(serializers.Serializer):
    providers = ProviderSerializer(many=True)
    presets = PresetSummarySerializer(many=True)


class BreakerStateSerializer(serializers.Serializer):
    provider = serializers.CharField()
    state = serializers.CharField(help_text="`closed`, `open`, `half_open`, or `unknown`.")
    failures = serializers.IntegerField(required=False)
    retry_in = serializers.FloatField(required=False)
    down_since = serializers.FloatField(
        required=False, help_text="When the circuit first opened (Unix time); open circuits only."
    )
    error = serializers.CharField(required=False)


class QueueStateSerializer(serializers.Serializer):
    name = serializers.CharField()
    depth = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(required=False)


class StatusResponseSerializer(serializers.Serializer):
    providers = BreakerStateSerializer(many=True)
    queue = QueueStateSerializer()


_JSON_ONLY = {"415": "Not JSON (`unsupported_media_type`)."}
_NO_PROVIDER = {
    "503": "No provider could do it (`no_provider`); `details` has `operation` and `trail`."
}


def _validated(serializer_class, request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- views ------------------------------------------------------------------------------


class ProcessView(_AiView):
    """Queue an order's AI work; 202 ``{"order", "queued"}``."""

    needs = (SEES_ORDERS, MAY_PROCESS)

    @extend_schema(
        summary="Queue an order's AI work",
        request=ProcessSerializer,
        responses={202: ProcessResponseSerializer, **error_responses(**_JSON_ONLY)},
        tags=["ai"],
    )
    def post(self, request):
        data = _validated(ProcessSerializer, request)
        ref = data["order"]
        order = Order.objects.restrict(request.user, Action.VIEW).filter(order_ref=ref).first()
        if order is None:
            raise NotFound(f"Order {ref} not found.")
        if not access.can(request.user, Action.PROCESS, order):
            return error_response(
                status.HTTP_403_FORBIDDEN,
                "permission_denied",
                f"You may not process order {order.order_ref}.",
            )
        image_ids = data.get("images")
        if image_ids is not None:
            image_ids = sorted(set(image_ids))
            found = set(
                Image.objects.restrict(request.user, Action.PROCESS)
                .filter(order=order, pk__in=image_ids)
                .values_list("pk", flat=True)
            )
            missing = [pk for pk in image_ids if pk not in found]
            if missing:
                raise NotFound(
                    f"Image {missing[0]} not found in order {order.order_ref}.",
                )
        queued = services.request_processing(
            order, actor=request.user, preset=data.get("preset"), image_ids=image_ids
        )
        return Response(
            {"order": order.order_ref, "status": order.status, "queued": queued},
            status=status.HTTP_202_ACCEPTED,
        )


class _OneImageView(_AiView):
    """One image through the chain, synchronously (each provider has its own timeout)."""

    needs = (SEES_ORDERS, MAY_PROCESS)
    operation = ""

    def post(self, request):
        data = _validated(ImageOperationSerializer, request)
        image = (
            Image.objects.restrict(request.user, Action.PROCESS)
            .select_related("order__preset")
            .filter(pk=data["image"])
            .first()
        )
        if image is None:
            raise NotFound(f"Image {data['image']} not found.")
        try:
            result, trail = services.run_once(
                image, self.operation, prompt=data.get("prompt") or ""
            )
        except NoProviderAvailable as exc:
            return error_response(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "no_provider",
                str(exc),
                {"operation": exc.operation, "trail": exc.trail},
            )
        return Response(
            {
                "image": image.pk,
                "order": image.order.order_ref,
                "operation": self.operation,
                "result": self.body(result),
                "trail": trail,
            }
        )

    def body(self, result) -> dict[str, Any]:
        return asdict(result)


@extend_schema(
    summary="Analyze one image now",
    request=ImageOperationSerializer,
    responses={200: AnalyzeResponseSerializer, **error_responses(**_JSON_ONLY, **_NO_PROVIDER)},
    tags=["ai"],
)
class AnalyzeView(_OneImageView):
    operation = "analyze"


@extend_schema(
    summary="Caption one image now",
    request=ImageOperationSerializer,
    responses={200: GenerateResponseSerializer, **error_responses(**_JSON_ONLY, **_NO_PROVIDER)},
    tags=["ai"],
)
class GenerateView(_OneImageView):
    """A caption, alt text and keywords; ``prompt`` defaults to the order's preset's."""

    operation = "caption"

    def body(self, result) -> dict[str, Any]:
        body = asdict(result)
        body["keywords"] = list(body.get("keywords") or [])
        return body


class ModelsView(_AiView):
    """The providers of ``AI_PROVIDERS`` in chain order, and the active presets."""

    @extend_schema(
        summary="AI providers and presets", responses=ModelsResponseSerializer, tags=["ai"]
    )
    def get(self, request):
        names = ai_status.configured()
        models = {
            "runware": settings.RUNWARE_MODEL,
            "gemini": settings.GEMINI_MODEL,
            "local": LocalProvider.model,
        }
        providers = [
            {
                "position": i,
                "name": name,
                "model": models.get(name),
                "available": name in PROVIDER_FACTORIES,
            }
            for i, name in enumerate(names, start=1)
        ]
        presets = [
            {"name": p.name, "slug": p.slug, "operations": list(p.operations)}
            for p in ProcessingPreset.objects.filter(is_active=True).order_by("name")
        ]
        return Response({"providers": providers, "presets": presets})


class StatusView(_AiView):
    """Each configured provider's circuit, and how many tasks wait in the ``ai`` queue."""

    needs = (SEES_ORDERS, SEES_AI_STATUS)

    @extend_schema(summary="AI providers' health", responses=StatusResponseSerializer, tags=["ai"])
    def get(self, request):
        return Response(
            {"providers": ai_status.provider_states(), "queue": ai_status.queue_depth()}
        )


urlpatterns = [
    re_path(r"^ai/process/?$", ProcessView.as_view(), name="ai-process"),
    re_path(r"^ai/analyze/?$", AnalyzeView.as_view(), name="ai-analyze"),
    re_path(r"^ai/generate/?$", GenerateView.as_view(), name="ai-generate"),
    re_path(r"^ai/models/?$", ModelsView.as_view(), name="ai-models"),
    re_path(r"^ai/status/?$", StatusView.as_view(), name="ai-status"),
]
