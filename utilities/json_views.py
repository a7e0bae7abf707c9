"""JSON answers of the pages' script endpoints (uploads, live forms, bulk review, analytics
data): the same error envelope as the REST API (``utilities.errors.error_body``), built
once, and a sign-in check that answers it instead of redirecting a script to a login page."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.http import JsonResponse

from utilities.errors import error_body


def json_error(status: int, message: str, code: str = "invalid", **details: Any) -> JsonResponse:
    """``{"error": {"code", "message", "details"}}`` with ``status``; never cached."""
    response = JsonResponse(error_body(code, message, details), status=status)
    response["Cache-Control"] = "no-store"
    return response


def json_login_required(view):
    """Like ``login_required`` for endpoints called from scripts: a JSON 403, not a redirect."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return json_error(403, "Sign in first; your session may have ended.", "signed_out")
        return view(request, *args, **kwargs)

    return wrapped
