"""Errors the order services raise for requests that cannot be carried out, and the one
error envelope every JSON answer uses (the REST API and the pages' script endpoints)."""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: str, details: dict | None = None) -> dict[str, Any]:
    """``{"error": {"code", "message", "details"}}``: a code for programs, a sentence for people."""
    return {"error": {"code": code, "message": str(message), "details": details or {}}}


class OrderError(Exception):
    """Base class: a request about an order that is refused, with a message for people."""


class TransitionNotAllowed(OrderError):
    def __init__(self, what: str, current: str, new: str) -> None:
        self.current, self.new = current, new
        super().__init__(f"{what} cannot move from '{current}' to '{new}'.")


class FieldRefused(OrderError):
    """A request refused because of one field's value (an unknown Event ID): the API answers
    400 naming ``field``, the pages show the message beside it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)
