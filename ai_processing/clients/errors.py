"""Typed Runware errors. Each says whether retrying the same request may succeed."""

from __future__ import annotations

from typing import Any


class RunwareError(Exception):
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        parameter: str | None = None,
        task_uuid: str | None = None,
        task_type: str | None = None,
    ):
        super().__init__(message)
        self.message, self.code, self.parameter = message, code, parameter
        self.task_uuid, self.task_type = task_uuid, task_type

    def __str__(self) -> str:
        where = f" [{self.code}]" if self.code else ""
        return f"{self.message}{where}"


class RunwareAuthError(RunwareError):
    """invalidApiKey / missingApiKey: fix the key, do not retry."""


class RunwareCapacityError(RunwareError):
    """429/503/504-like: queue full, provider timeout (timeoutProvider). Retry with backoff."""

    retryable = True


class RunwareBadRequest(RunwareError):
    """The request itself is wrong (validation, unsupported value): do not retry unchanged."""


class RunwareServerError(RunwareError):
    """A 5xx-like failure on Runware's or the provider's side: transient."""

    retryable = True


class RunwareTimeout(RunwareError):
    """No answer within the task timeout."""

    retryable = True


class RunwareConnectionError(RunwareError):
    """Could not reach Runware (connect, download)."""

    retryable = True


_CAPACITY_CODES = {"timeoutProvider", "tooManyRequests", "rateLimitExceeded", "serviceUnavailable"}
_AUTH_CODES = {"invalidApiKey", "missingApiKey", "unauthorized", "insufficientPermissions"}


def error_from_payload(err: dict[str, Any]) -> RunwareError:
    """Map one Runware error object ({code, message, parameter, taskType, taskUUID}) to a type."""
    code = err.get("code") or err.get("errorId")
    code = str(code) if code is not None else None
    message = err.get("message") or err.get("errorMessage") or "Runware error"
    status = err.get("statusCode") or err.get("status")
    kwargs = {
        "code": code,
        "parameter": err.get("parameter"),
        "task_uuid": err.get("taskUUID"),
        "task_type": err.get("taskType"),
    }
    lowered = (code or "").lower()
    if code in _AUTH_CODES or err.get("taskType") == "authentication" or status in (401, 403):
        return RunwareAuthError(message, **kwargs)
    if code in _CAPACITY_CODES or status in (429, 503, 504) or "capacity" in lowered:
        return RunwareCapacityError(message, **kwargs)
    if (isinstance(status, int) and status >= 500) or lowered in {
        "providererror",
        "internalservererror",
    }:
        return RunwareServerError(message, **kwargs)
    return RunwareBadRequest(message, **kwargs)
