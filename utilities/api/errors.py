"""One error shape for the whole REST API.

Every answer that is not a success has the body::

    {"error": {"code": "...", "message": "...", "details": {...}}}

``code`` is a stable machine word (``invalid``, ``not_found``, ``conflict``…),
``message`` a sentence for people, ``details`` an object (per-field messages
for ``invalid``; empty when there is nothing more to say).

Registered as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``. Besides DRF's own
exceptions it maps the project's: ``utilities.errors.FieldRefused`` → 400 naming the
field, ``OrderError`` → 409, Django's ``PermissionDenied`` → 403, ``Http404`` → 404, Django's
``ValidationError`` → 400; an outage of Redis or the database
(``utilities.infrastructure.TRANSIENT``) → 503 with ``Retry-After``. Anything else is
a bug of ours: it is logged and reported like any unhandled error
(``got_request_exception``), and the client still gets the shape, with 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core import exceptions as django_exceptions
from django.core.signals import got_request_exception
from django.http import Http404
from rest_framework import exceptions, parsers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from utilities.errors import FieldRefused, OrderError, TransitionNotAllowed, error_body
from utilities.infrastructure import is_transient
from utilities.outages import RETRY_AFTER_SECONDS, unavailable_message

log = logging.getLogger(__name__)

#: Codes for statuses DRF's exceptions carry a less helpful default for.
_STATUS_CODES = {
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}

#: Sent with 401 so clients know to authenticate (an API key, or a session).
AUTH_CHALLENGE = 'Api-Key realm="api"'


def error_response(
    status_code: int, code: str, message: str, details: dict | None = None, **kwargs
) -> Response:
    return Response(error_body(code, message, details), status=status_code, **kwargs)


def _first_message(detail: Any, prefix: str = "") -> str:
    """The first message in a (possibly nested) validation detail, with its field path."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            label = "" if key in ("non_field_errors", "detail") else str(key)
            path = f"{prefix}.{label}" if prefix and label else (label or prefix)
            return _first_message(value, path)
        return ""
    if isinstance(detail, list):
        for value in detail:
            found = _first_message(value, prefix)
            if found:
                return found
        return ""
    return f"{prefix}: {detail}" if prefix else str(detail)


def _validation_details(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return detail
    if isinstance(detail, list):
        return {"non_field_errors": detail}
    return {"non_field_errors": [detail]}


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."
    default_code = "request_too_large"


class BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request could not be understood."
    default_code = "bad_request"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested too deeply for Python's decoder, or
    text with an unpaired surrogate (``"\\ud800"``: valid JSON, not valid
    Unicode, refused by the database), is the client's malformed input (400),
    not a server error."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            # One pass in C: encoding fails exactly when a string holds a lone surrogate.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        except UnicodeEncodeError:
            raise exceptions.ParseError(
                "JSON parse error - text contains an unpaired surrogate (not valid Unicode)."
            ) from None
        return data


def _translate(exc: Exception) -> Exception:
    """Django and project exceptions → DRF ones, keeping the message people should read."""
    if isinstance(exc, django_exceptions.RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, django_exceptions.SuspiciousOperation | django_exceptions.BadRequest):
        # Too many fields or files, malformed headers…: Django answers these 400 too.
        return BadRequest(str(exc) or None)
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) if exc.args else None)
    if isinstance(exc, django_exceptions.PermissionDenied):
        return exceptions.PermissionDenied(str(exc) if exc.args else None)
    if isinstance(exc, django_exceptions.ValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return exceptions.ValidationError(detail)
    return exc


def exception_handler(exc: Exception, context: dict) -> Response | None:
    exc = _translate(exc)

    if isinstance(exc, FieldRefused):
        set_rollback()
        details = {exc.field: [str(exc)]}
        return error_response(status.HTTP_400_BAD_REQUEST, "invalid", str(exc), details)

    if isinstance(exc, OrderError):
        set_rollback()
        details = {}
        code = "conflict"
        if isinstance(exc, TransitionNotAllowed):
            code = "transition_not_allowed"
            details = {"from": exc.current, "to": exc.new}
        return error_response(status.HTTP_409_CONFLICT, code, str(exc), details)

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        details = _validation_details(exc.detail)
        message = _first_message(details) or "Invalid input."
        return error_response(status.HTTP_400_BAD_REQUEST, "invalid", message, details)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        status_code = exc.status_code
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            # DRF answers 403 when no authenticator names a challenge (session-only
            # auth): the API answers 401 whatever the authentication method.
            status_code = status.HTTP_401_UNAUTHORIZED
            headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or AUTH_CHALLENGE
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        detail = exc.detail
        code = (getattr(detail, "code", None) if isinstance(detail, str) else None) or (
            exc.default_code
        )
        if isinstance(exc, exceptions.NotAuthenticated):
            code = "not_authenticated"
        elif status_code in _STATUS_CODES and code in ("error", "invalid"):
            code = _STATUS_CODES[status_code]
        if isinstance(detail, dict | list):
            message = _first_message(detail) or "Request refused."
            details = _validation_details(detail)
        else:
            message, details = str(detail), {}
        return error_response(status_code, code, message, details, headers=headers)

    if is_transient(exc):
        # Redis or the database is away: not a bug, and not the client's fault. 503 with
        # Retry-After tells the client to come back (utilities.outages).
        set_rollback()
        log.warning("API answered 503: %r", exc)
        return error_response(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "unavailable",
            unavailable_message(exc),
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    # A bug of ours, not the client's: report it like Django would, answer in the shape.
    request = context.get("request")
    log.error("Unhandled error in API view", exc_info=exc)
    got_request_exception.send(sender=None, request=getattr(request, "_request", request))
    return error_response(
        status.HTTP_500_INTERNAL_SERVER_ERROR,
        "server_error",
        "Internal server error; the error has been logged.",
    )
