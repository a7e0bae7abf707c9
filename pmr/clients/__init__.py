"""Client for the studio's PMR (pmr/contract/pmr-v1.yaml): no Django imports, plain data.

``PMRClient`` makes the calls; ``errors`` holds the typed errors (each with ``retryable``);
``webhooks`` signs and verifies the PMR's webhook deliveries for both sides.
"""

from pmr.clients.client import PMRClient
from pmr.clients.errors import (
    PMRAuthError,
    PMRChecksumMismatch,
    PMRError,
    PMREventClosed,
    PMRIdempotencyConflict,
    PMRImagesMissing,
    PMRNetworkError,
    PMRNotFound,
    PMRProtocolError,
    PMRRateLimited,
    PMRTimeout,
    PMRUnavailable,
    PMRValidationError,
)
from pmr.clients.webhooks import WebhookVerificationError, sign, verify

__all__ = [
    "PMRAuthError",
    "PMRChecksumMismatch",
    "PMRClient",
    "PMRError",
    "PMREventClosed",
    "PMRIdempotencyConflict",
    "PMRImagesMissing",
    "PMRNetworkError",
    "PMRNotFound",
    "PMRProtocolError",
    "PMRRateLimited",
    "PMRTimeout",
    "PMRUnavailable",
    "PMRValidationError",
    "WebhookVerificationError",
    "sign",
    "verify",
]
