"""Signing and verifying PMR webhooks, shared by the simulator (signs) and the project (verifies).

``X-PMR-Signature: sha256=<hex HMAC-SHA256 of "<X-PMR-Timestamp>.<X-PMR-Delivery>.<raw body>">``
(PMR contract 1.7.0). The timestamp is inside the signed text so an old delivery cannot be
replayed with a new timestamp, and the receiver refuses timestamps more than ``tolerance``
seconds off either way. The delivery id is inside it too: the receiver treats a repeated
delivery id as done, so a captured request re-sent under a new ``X-PMR-Delivery`` would
otherwise be applied a second time. A delivery id holds no ``.``, so the signed text splits
one way only. An empty secret is refused: an HMAC key anyone can use proves nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE = 300
MAX_DELIVERY_ID = 100


class WebhookVerificationError(ValueError):
    """The webhook is not from the PMR, or too old/new to trust. ``reason`` says which.

    Reasons: ``missing`` (no timestamp, delivery or signature header), ``malformed`` (not
    ``sha256=<hex>``, not an integer timestamp, or a delivery id that is not 1-100 printable
    characters without ``.``), ``stale`` / ``future`` (timestamp outside the tolerance),
    ``bad_signature``, ``not_configured`` (the receiver has no secret).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _delivery_ok(delivery_id: str) -> bool:
    return (
        0 < len(delivery_id) <= MAX_DELIVERY_ID
        and delivery_id.isascii()
        and delivery_id.isprintable()
        and "." not in delivery_id
        and " " not in delivery_id
    )


def sign(secret: str | bytes, timestamp: int | str, delivery_id: str, raw_body: bytes) -> str:
    """The ``X-PMR-Signature`` value for this timestamp, delivery and body: ``sha256=<hex>``."""
    if not _delivery_ok(delivery_id):
        raise ValueError(f"not a delivery id: {delivery_id!r}")
    message = f"{int(timestamp)}.{delivery_id}.".encode("ascii") + raw_body
    digest = hmac.new(_as_bytes(secret), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(
    secret: str | bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    raw_body: bytes,
    delivery_header: str | None,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """True when the delivery is genuine and fresh; raises ``WebhookVerificationError`` if not.

    ``raw_body`` must be the bytes as received (not re-serialised JSON). The comparison is
    constant-time. ``now`` (unix seconds) defaults to the current time; tests pass their own.
    """
    if not secret:
        raise WebhookVerificationError("not_configured", "No webhook secret is configured here")
    if not timestamp_header or not signature_header or not delivery_header:
        raise WebhookVerificationError(
            "missing", "X-PMR-Timestamp, X-PMR-Delivery and X-PMR-Signature are required"
        )
    delivery_id = delivery_header.strip()
    if not _delivery_ok(delivery_id):
        raise WebhookVerificationError("malformed", "X-PMR-Delivery is not a delivery id")
    timestamp_text = timestamp_header.strip()
    if not (timestamp_text.isascii() and timestamp_text.isdigit()):
        raise WebhookVerificationError("malformed", "X-PMR-Timestamp is not unix seconds")
    signature = signature_header.strip()
    if (
        not signature.isascii()
        or not signature.startswith(SIGNATURE_PREFIX)
        or len(signature) != len(SIGNATURE_PREFIX) + 64
    ):
        raise WebhookVerificationError("malformed", "X-PMR-Signature is not sha256=<hex>")
    timestamp = int(timestamp_text)
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("stale", "X-PMR-Timestamp is too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("future", "X-PMR-Timestamp is in the future")
    expected = sign(secret, timestamp, delivery_id, raw_body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("ascii")):
        raise WebhookVerificationError("bad_signature", "X-PMR-Signature does not match")
    return True
