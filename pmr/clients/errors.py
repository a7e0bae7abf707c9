"""Typed PMR errors. Each says whether the same call may succeed later (``retryable``).

The outbox worker decides on ``retryable`` alone: wait and retry, or give up and show the
operator. The client maps an answer to a class by HTTP status first and the error ``code``
second, so a code the PMR adds later still lands in the right family.
"""

from __future__ import annotations

from typing import Any


class PMRError(Exception):
    """Any failure talking to the PMR; ``status`` is None when no answer arrived."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or {}

    def __str__(self) -> str:
        where = " ".join(str(part) for part in (self.status, self.code) if part is not None)
        return f"{self.message} [{where}]" if where else self.message

    def as_dict(self) -> dict[str, Any]:
        """Plain data for an outbox row's ``last_error`` (no secrets in it)."""
        return {
            "type": type(self).__name__,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "retryable": self.retryable,
        }


class PMRAuthError(PMRError):
    """Credentials refused (invalid_client, invalid_api_key, token_expired twice, scope).

    Not retryable: the same credentials will be refused again until someone fixes them.
    """


class PMRNotFound(PMRError):
    """No such event, customer, order or image."""


class PMRValidationError(PMRError):
    """The PMR refused the request itself (validation_failed, payload_too_large, other 4xx)."""


class PMRChecksumMismatch(PMRValidationError):
    """The bytes sent are not the ones ``X-Content-SHA256`` names: re-read the file, re-hash."""


class PMREventClosed(PMRError):
    """The order's event is closed at the PMR: no new orders or images for it."""


class PMRImagesMissing(PMRError):
    """409 ``images_missing``: the order cannot complete, fewer images are stored than it
    announced (``details.expected`` / ``details.stored``). Not retryable as it is: a person
    looks at the delivery (an image upload that never arrived, a count that is wrong)."""


class PMRIdempotencyConflict(PMRError):
    """The idempotency key was used before for a different body: a bug on our side."""


class PMRRateLimited(PMRError):
    """429: wait ``retry_after`` seconds (None when the PMR did not say)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "retry_after": self.retry_after}


class PMRUnavailable(PMRError):
    """503 or any other 5xx: maintenance, overload or a fault on the PMR's side."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PMRNetworkError(PMRError):
    """No answer: connection refused or reset, DNS, TLS, a broken response."""

    retryable = True


class PMRTimeout(PMRNetworkError):
    """Connect or read timeout. A write may or may not have happened: retry with the same key."""


class PMRProtocolError(PMRError):
    """A 2xx answer the client cannot read (not JSON, wrong shape): a proxy or a PMR bug."""
