"""A Web Push service simulator: what a browser vendor's push service does with our messages.

The machine that runs the tests has no internet, so Chromium's
``pushManager.subscribe`` cannot reach Google's push service (FCM) and no real
push can be delivered. This simulator stands in for the push service at the
edge, and is strict where a real one is:

- **Subscriptions** (what the browser would get from its push service):
  ``subscribe(application_server_key)`` makes a user-agent key pair (P-256)
  and a 16-byte auth secret like a browser does, and an endpoint on this
  server bound to the application server key, as FCM binds it.
- **RFC 8030** message delivery: ``POST /push/<token>`` with a ``TTL`` header
  (400 without), ``Content-Encoding: aes128gcm`` (415 otherwise); 201 with a
  ``Location`` on success; 404 for an unknown endpoint and 410 for one that
  ``expire()`` withdrew (the server must then forget the subscription).
- **RFC 8292** VAPID: ``Authorization: vapid t=<JWT>, k=<public key>``. The key
  must be the one the subscription was made with (403 otherwise); the JWT must
  be ES256, signed by that key, with ``aud`` = this service's origin, an
  ``exp`` in the future and at most 24 h ahead, and a ``sub`` (401 otherwise).
- **RFC 8291** payload encryption: the body is decrypted with the
  subscription's private key and auth secret (``http_ece``, as ``pywebpush``
  encrypts it); a body that does not decrypt is refused (400).

Accepted messages are kept (``messages``), decrypted, for the test to read.
Faults: ``fail_next(status, count)`` answers the next requests with that
status (429, 500, 503…). Plain aiohttp + ``cryptography`` + ``http_ece``; no
Django, so it can run as a process of its own:
``python -m notifications.push_simulator --port 57590``.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from utilities.simulation.background import BackgroundServer

#: RFC 8292 §2: a JWT's ``exp`` must not be more than 24 hours from the request.
MAX_EXP_SECONDS = 24 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscription:
    token: str
    application_server_key: str  # base64url, as the browser was given it
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    expired: bool = False

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)


@dataclass
class Message:
    """One message the service accepted, decrypted."""

    token: str
    endpoint: str
    payload: bytes
    ttl: int
    urgency: str
    claims: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.payload)


class PushRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class PushServiceCore:
    """The push service's state and its aiohttp app."""

    def __init__(self) -> None:
        self.origin = ""  # set once the server knows its port
        self.subscriptions: dict[str, Subscription] = {}
        self.messages: list[Message] = []
        self.refusals: list[tuple[int, str]] = []
        self._faults: list[int] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    # --- what a test or a browser stand-in calls ------------------------------------------

    def subscribe(self, application_server_key: str) -> dict[str, Any]:
        """A new subscription, as ``PushSubscription.toJSON()`` gives it to a page."""
        token = secrets.token_urlsafe(24)
        sub = Subscription(
            token=token,
            application_server_key=application_server_key.rstrip("="),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=secrets.token_bytes(16),
        )
        with self._lock:
            self.subscriptions[token] = sub
        return {
            "endpoint": self.endpoint(token),
            "expirationTime": None,
            "keys": {"p256dh": sub.p256dh, "auth": b64url(sub.auth)},
        }

    def endpoint(self, token: str) -> str:
        return f"{self.origin}/push/{token}"

    def expire(self, endpoint: str) -> None:
        """The browser withdrew it (or it expired): further messages get 410 Gone."""
        with self._lock:
            self.subscriptions[endpoint.rsplit("/", 1)[-1]].expired = True

    def fail_next(self, status: int, count: int = 1) -> None:
        with self._lock:
            self._faults.extend([status] * count)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Message]:
        """Block until ``count`` messages arrived (or the timeout); all messages so far."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._arrived.wait(remaining)
            return list(self.messages)

    # --- the HTTP side -----------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8192)
        app.router.add_post("/push/{token}", self.handle_push)
        app.router.add_get("/_sim/messages", self.handle_messages)
        return app

    async def handle_messages(self, request: web.Request) -> web.Response:
        with self._lock:
            body = [
                {"token": m.token, "payload": m.payload.decode("utf-8", "replace"), "ttl": m.ttl}
                for m in self.messages
            ]
        return web.json_response(body)

    async def handle_push(self, request: web.Request) -> web.Response:
        body = await request.read()
        token = request.match_info["token"]
        try:
            message = self.accept(token, dict(request.headers), body)
        except PushRefused as exc:
            with self._lock:
                self.refusals.append((exc.status, exc.reason))
            return web.json_response({"code": exc.status, "error": exc.reason}, status=exc.status)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return web.Response(
            status=201, headers={"Location": f"{self.origin}/m/{len(self.messages)}"}
        )

    def accept(self, token: str, headers: dict[str, str], body: bytes) -> Message:
        """Check one POST as a push service does; the decrypted message, or ``PushRefused``."""
        headers = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            if self._faults:
                status = self._faults.pop(0)
                raise PushRefused(status, "simulated fault")
            sub = self.subscriptions.get(token)
        if sub is None:
            raise PushRefused(404, "no such subscription")
        if sub.expired:
            raise PushRefused(410, "subscription expired or unsubscribed")
        ttl = headers.get("ttl", "")
        if not ttl.isdigit():
            raise PushRefused(400, "TTL header missing or not a number (RFC 8030 5.2)")
        if headers.get("content-encoding", "").lower() != "aes128gcm":
            raise PushRefused(415, "Content-Encoding must be aes128gcm (RFC 8291)")
        claims = self._check_vapid(headers.get("authorization", ""), sub)
        try:
            payload = http_ece.decrypt(
                body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
            )
        except Exception as exc:
            raise PushRefused(400, f"payload does not decrypt: {exc}") from None
        return Message(
            token=token,
            endpoint=self.endpoint(token),
            payload=payload,
            ttl=int(ttl),
            urgency=headers.get("urgency", "normal"),
            claims=claims,
            headers=headers,
        )

    def _check_vapid(self, authorization: str, sub: Subscription) -> dict[str, Any]:
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise PushRefused(401, "Authorization must use the vapid scheme (RFC 8292)")
        parts = {}
        for item in params.split(","):
            name, _, value = item.strip().partition("=")
            parts[name.strip()] = value.strip()
        token, key = parts.get("t", ""), parts.get("k", "")
        if not token or not key:
            raise PushRefused(401, "vapid needs t= and k=")
        if key.rstrip("=") != sub.application_server_key:
            raise PushRefused(403, "k is not the key this subscription was made with")
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(claims_b64))
            signature = b64url_decode(signature_b64)
        except ValueError:
            raise PushRefused(401, "the JWT is malformed") from None
        if header.get("alg") != "ES256" or len(signature) != 64:
            raise PushRefused(401, "the JWT must be ES256")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise PushRefused(403, "the JWT's signature does not verify with k") from None
        now = time.time()
        if claims.get("aud") != self.origin:
            raise PushRefused(403, f"aud must be {self.origin}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= now or exp > now + MAX_EXP_SECONDS + 60:
            raise PushRefused(403, "exp must be in the future, at most 24 hours ahead")
        sub_claim = str(claims.get("sub", ""))
        if not sub_claim.startswith(("mailto:", "https:")):
            raise PushRefused(403, "sub must be a mailto: or https: URL")
        return claims


class PushServiceSimulator(BackgroundServer):
    """``with PushServiceSimulator() as push:`` a push service on a free port of 127.0.0.1."""

    thread_name = "push-service-simulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.core = PushServiceCore()

    async def start_async(self) -> None:
        await super().start_async()
        self.core.origin = f"http://{self.host}:{self.port}"

    def __getattr__(self, name: str) -> Any:  # subscribe, messages, expire, … of the core
        if name == "core":
            raise AttributeError(name)
        return getattr(self.core, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=57590)
    args = parser.parse_args()
    PushServiceSimulator(args.host, args.port).serve_forever(
        f"Web Push service simulator on http://{args.host}:{args.port}"
    )


if __name__ == "__main__":
    main()
