"""The PMR error shape, ``{"error": {"code", "message", "details"}}``, as an exception."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class ApiError(Exception):
    """Raised anywhere in a handler; the server's middleware turns it into the answer."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or {}
        self.headers = headers or {}

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.message, self.details, self.headers)


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return web.json_response(body, status=status, headers=headers)


def validation_failed(message: str, **details: Any) -> ApiError:
    return ApiError(422, "validation_failed", message, details)


def not_found(what: str, key: str) -> ApiError:
    return ApiError(404, "not_found", f"No {what} {key!r}.", {what: key})
