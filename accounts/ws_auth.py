"""API keys on WebSocket connections: ``Authorization: Api-Key <key>`` on the handshake.

Browsers sign WebSockets in with their session cookie (Channels'
``AuthMiddlewareStack``); programs cannot always keep a session, so they may
present an API key instead, the same header as the REST API. This middleware
sits inside ``AuthMiddlewareStack`` and, when the header is present, replaces
the session's user with the key's owner, or with nobody for a key that is not
valid: an explicit credential that fails must fail, not fall back to whatever
cookie came along. Consumers then apply the access rule to ``scope["user"]``
whichever way it was found; ``scope["auth"]`` says which (``"session"`` or
``"api_key"``).

The key is checked by ``accounts.api_keys.user_for_key`` (this module lives beside it: the
socket's credentials are the accounts app's, as the API's are).

A WebSocket lives for hours; ``current_user_id`` asks again who its credential
names *now* (the session still exists and its password hash still matches;
the key is not revoked or expired), so the consumers can end a stream whose
user signed out, changed password or lost their key.
"""

from __future__ import annotations

import logging
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

from .api_keys import user_for_key

log = logging.getLogger(__name__)

SCHEME = "api-key"
#: Longest header value looked at; anything longer is not a key of ours.
MAX_HEADER = 512


def api_key_from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The raw key of an ``Authorization: Api-Key <key>`` header; None if there is none.

    Returns ``""`` for an Api-Key header without a usable key (so the
    connection is treated as a failed key, not as no key).
    """
    for name, value in headers:
        if name.lower() != b"authorization":
            continue
        text = value[:MAX_HEADER].decode("latin-1").strip()
        scheme, _, key = text.partition(" ")
        if scheme.lower() != SCHEME:
            return None
        return key.strip()
    return None


def _user_for_key(raw_key: str) -> Any | None:
    if not raw_key:
        return None
    user = user_for_key(raw_key)
    return user if user is not None and user.is_active else None


def current_user_id(scope: dict[str, Any]) -> int | None:
    """The id of the user the connection's credential names now; None if it no longer works.

    Synchronous (database); call through ``database_sync_to_async``.
    """
    if scope.get("auth") == "api_key":
        user = _user_for_key(api_key_from_headers(scope.get("headers", [])) or "")
        return user.pk if user is not None else None
    key = getattr(scope.get("session"), "session_key", None)
    if not key:
        return None
    from django.conf import settings
    from django.contrib import auth

    # A fresh store: the connection's own copy was read at connect time. Django's
    # get_user checks the session's password hash, as on every page request.
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    user = auth.get_user(SimpleNamespace(session=store))
    return user.pk if user.is_authenticated else None


class ApiKeyAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from an API key header, if the handshake has one."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        raw_key = api_key_from_headers(scope.get("headers", []))
        if raw_key is None:
            scope.setdefault("auth", "session")
        else:
            from django.contrib.auth.models import AnonymousUser

            user = await database_sync_to_async(_user_for_key)(raw_key)
            scope["user"] = user if user is not None else AnonymousUser()
            scope["auth"] = "api_key"
        return await super().__call__(scope, receive, send)


class OriginCheck:
    """Channels' ``AllowedHostsOriginValidator``, except for programs signing in with a key.

    The origin check stops another site's page from opening a socket that rides on our
    visitors' session cookies. A program that presents ``Authorization: Api-Key`` and sends
    no ``Origin`` (most WebSocket libraries send none) rides on no cookie: the key replaces
    the session (``ApiKeyAuthMiddleware``), so it may connect without one. A handshake that
    does send an ``Origin`` is checked whatever else it carries.
    """

    def __init__(self, inner: Any) -> None:
        from channels.security.websocket import AllowedHostsOriginValidator

        self.inner = inner
        self.checked = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send):
        headers = scope.get("headers") or []
        has_origin = any(name.lower() == b"origin" for name, _ in headers)
        if not has_origin and api_key_from_headers(headers) is not None:
            return await self.inner(scope, receive, send)
        return await self.checked(scope, receive, send)
