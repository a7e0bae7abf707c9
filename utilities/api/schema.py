"""OpenAPI 3 description of the REST API (drf-spectacular): ``/api/v1/schema/``, ``/api/v1/docs/``.

- ``Error``: the one error shape of ``utilities.api.errors``, as a component.
  ``AutoSchema`` adds it to every operation for 400, 401, 403, 404, 429 (and
  409 on writes), and as the ``default`` answer for anything else (405, 406,
  413, 415, 503…), so a client generated from the schema can read every error.
- ``ApiKeyScheme``: ``Authorization: Api-Key <key>`` as a security scheme.
- ``preprocess_paths``: the routers accept ``/orders`` and ``/orders/``
  (regex ``/?``); the schema names each path once, without the slash.

Views describe their own bodies with ``extend_schema``; ``error_responses``
adds a view's extra error statuses (e.g. 415, 422, 503) with their meaning.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

#: Statuses every operation documents with the error shape, and what they mean here.
COMMON_ERRORS: dict[str, str] = {
    "400": "Invalid input (`invalid`, `parse_error`, `bad_request`): `details` maps each "
    "field to its messages.",
    "401": "No valid API key or session (`not_authenticated`, `authentication_failed`).",
    "403": "The role or the object's access does not allow it (`permission_denied`).",
    "404": "Unknown, or not visible to this user (`not_found`).",
    "429": "Too many requests (`throttled`); see the `Retry-After` header.",
}
WRITE_ERRORS: dict[str, str] = {
    "409": "The object's state refuses it (`conflict`, `transition_not_allowed`), or an "
    "`Idempotency-Key` was reused with another request (`idempotency_key_reused`).",
}
DEFAULT_ERROR = (
    "Any other error, in the same shape: 405 `method_not_allowed`, 406 `not_acceptable`, "
    "413 `request_too_large`, 415 `unsupported_media_type`, 503 …"
)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable machine word: `invalid`, `not_found`, `conflict`, `throttled`…"
    )
    message = serializers.CharField(help_text="A sentence for people.")
    details = serializers.DictField(
        child=serializers.JSONField(),
        help_text="More about the error; per-field messages for `invalid`; may be empty.",
    )


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer):
    """Every answer that is not a success: ``{"error": {"code", "message", "details"}}``."""

    error = ErrorBodySerializer()


#: The header a create operation honours (``accounts.idempotency``).
IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    pattern=r"^[\x21-\x7e]{1,255}$",
    description="Send the same key again (same user, same request) to get the first answer "
    "back instead of a second object; kept 24 hours. The same key with another request is "
    "409 `idempotency_key_reused`.",
)


def error_responses(**statuses: str) -> dict[int, OpenApiResponse]:
    """``error_responses(**{"415": "…"})`` → extra error answers for ``extend_schema``."""
    return {
        int(code): OpenApiResponse(response=ErrorSerializer, description=text)
        for code, text in statuses.items()
    }


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the error shape on every operation."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        errors = dict(COMMON_ERRORS)
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            errors.update(WRITE_ERRORS)
        for code, text in errors.items():
            if code not in responses:
                responses[code] = self._error_response(code, text, direction)
        if "default" not in responses:
            responses["default"] = self._error_response("default", DEFAULT_ERROR, direction)
        return responses

    def _error_response(self, code: str, text: str, direction: Any) -> dict[str, Any]:
        response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
        response["description"] = text
        return response


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "rkh_site.api_auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`. Keys are made by admins (admin, or "
            "`manage.py create_api_key USER --name NAME`) and act with their user's role.",
        }


_OPTIONAL_SLASH = re.compile(r"/\?(?=$|/)")


def preprocess_paths(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """Drop the routers' optional trailing slash from paths; keep each path once."""
    seen: set[tuple[str, str]] = set()
    result = []
    for path, path_regex, method, callback in endpoints:
        path = _OPTIONAL_SLASH.sub("", path).rstrip("/") or "/"
        if (path, method) in seen:
            continue
        seen.add((path, method))
        result.append((path, path_regex, method, callback))
    return result
