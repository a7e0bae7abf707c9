"""API-key authentication for the REST API: ``Authorization: Api-Key <key>``.

The key is checked by ``accounts.api_keys.user_for_key`` (the same function the
WebSocket consumers use); the request then acts as the key's user, with that
user's role, exactly as if they had signed in. A request that names a key
which does not work (unknown, revoked, expired, or its user deactivated) is
refused with 401: it is not quietly treated as anonymous, nor passed on to
the session, so a client learns at once that its key stopped working.
"""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions

from accounts import api_keys

KEYWORD = "Api-Key"
#: The challenge of a 401 (``WWW-Authenticate``).
CHALLENGE = f'{KEYWORD} realm="api"'


def _attribute_audit_to(user: Any) -> None:
    """Make the audit log name the key's user as the actor of this request's changes.

    django-auditlog's middleware fixes the actor when the request arrives,
    from the session, before DRF has read the key; its context is a dict in a
    context variable, updated here in place.
    """
    from auditlog.context import auditlog_value

    try:
        context = auditlog_value.get()
    except LookupError:  # not inside the middleware (e.g. a bare view test)
        return
    if context.get("actor") is None:
        context["actor"] = user


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """DRF authentication by API key; ``request.auth`` is the ``ApiKey`` row."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        keyword, _, raw_key = header.partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None  # no key sent: another authenticator (the session) may apply
        api_key = api_keys.key_for(raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        _attribute_audit_to(api_key.user)
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        return CHALLENGE
