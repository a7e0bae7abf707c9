"""Web Push: the VAPID keys, checking a browser's subscription, and sending one message.

A browser that allows notifications subscribes with the server's public key
(``VAPID_PUBLIC_KEY``, its ``applicationServerKey``) and gets an endpoint at
its vendor's push service. To notify it, the server POSTs to that endpoint
(RFC 8030) a payload encrypted for the browser's keys (RFC 8291, aes128gcm)
with a JWT signed by the private key (VAPID, RFC 8292); ``pywebpush`` does
both. The service worker (``static/js/sw/push.js``) shows it.

Endpoints are the one URL a user hands the server: they are held to
``WEBPUSH_ALLOWED_HOSTS`` (the push services of the browsers; https), so a
subscription cannot make the server post to an address of the user's choosing.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

#: Largest payload (bytes of JSON) sent: push services take 4 KiB after encryption.
MAX_PAYLOAD_BYTES = 3000
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def enabled() -> bool:
    """Whether Web Push can be sent: a complete key pair is configured."""
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY)


def public_key() -> str:
    return settings.VAPID_PUBLIC_KEY if enabled() else ""


def _b64url_bytes(value: str) -> bytes:
    value = value.strip()
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _host_allowed(host: str, scheme: str) -> bool:
    host = host.lower().rstrip(".")
    for allowed in settings.WEBPUSH_ALLOWED_HOSTS:
        allowed = allowed.lower().strip()
        if not allowed:
            continue
        matches = host.endswith(allowed) if allowed.startswith(".") else host == allowed
        if matches and (scheme == "https" or (scheme == "http" and host in LOOPBACK)):
            return True
    return False


def check_subscription(endpoint: str, p256dh: str, auth: str) -> None:
    """Refuse a subscription that cannot be used, with a sentence (``ValueError``)."""
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
    except ValueError:
        raise ValueError("The push endpoint is not a URL.") from None
    if not _host_allowed(host, parts.scheme):
        raise ValueError(
            "The push endpoint is not a push service this server sends to (WEBPUSH_ALLOWED_HOSTS)."
        )
    try:
        key, secret = _b64url_bytes(p256dh), _b64url_bytes(auth)
    except (binascii.Error, ValueError):
        raise ValueError("The subscription's keys are not base64url.") from None
    try:
        from cryptography.hazmat.primitives.asymmetric import ec

        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
    except ValueError:
        raise ValueError("The subscription's p256dh key is not a P-256 public key.") from None
    if len(secret) != 16:
        raise ValueError("The subscription's auth secret is not 16 bytes.")


@dataclass(frozen=True)
class PushOutcome:
    """What the push service said: ``sent``, ``gone`` (delete the subscription), ``retry``
    (try later) or ``failed`` (it will not work), with the reason in words."""

    state: str
    detail: str = ""


def payload_for(notification: Any) -> bytes:
    """The JSON the service worker gets (``static/js/sw/push.js``), within the size limit."""
    from django.urls import reverse

    data = {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url or reverse("notification_list"),
        "open_url": reverse("notification_open", args=[notification.pk]),
        "tag": f"rkh-notification-{notification.pk}",
    }
    encoded = json.dumps(data).encode()
    while len(encoded) > MAX_PAYLOAD_BYTES and data["body"]:
        data["body"] = data["body"][: max(0, len(data["body"]) - 200)].rstrip() + "…"
        if len(data["body"]) <= 1:
            data["body"] = ""
        encoded = json.dumps(data).encode()
    return encoded


def send(subscription: Any, payload: bytes, *, timeout: float = 10.0) -> PushOutcome:
    """POST one encrypted message to the subscription's push service."""
    import requests
    from py_vapid import Vapid
    from pywebpush import WebPushException, webpush

    if not enabled():
        return PushOutcome("failed", "Web Push is off (no VAPID keys).")
    info = {
        "endpoint": subscription.endpoint,
        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
    }
    try:
        webpush(
            subscription_info=info,
            data=payload.decode(),
            vapid_private_key=Vapid.from_string(settings.VAPID_PRIVATE_KEY),
            vapid_claims={"sub": settings.VAPID_SUBJECT},  # a new dict: webpush adds aud, exp
            ttl=settings.WEBPUSH_TTL_SECONDS,
            timeout=timeout,
            headers={"Urgency": "normal"},
        )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (404, 410):
            return PushOutcome("gone", f"The push service no longer knows it ({status}).")
        if status is None or status == 429 or status >= 500:
            return PushOutcome("retry", f"The push service answered {status}.")
        return PushOutcome("failed", f"The push service refused the message ({status}).")
    except (requests.RequestException, OSError) as exc:
        return PushOutcome(
            "retry", f"The push service could not be reached ({type(exc).__name__})."
        )
    return PushOutcome("sent")
