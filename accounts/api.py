"""REST API of accounts: sign-in and sign-out by session, the user's own profile and settings.

- ``POST /auth/login``: ``{"login": username or e-mail, "password"}`` → a session
  (cookie), through allauth like the sign-in page, so its failed-login rate
  limit applies too. JSON only: an HTML form of another site cannot send
  JSON without a CORS preflight, which refuses other origins, so nobody can
  be signed in to an account of an attacker's choosing (login CSRF).
- ``POST /auth/logout``: ends the session (an API-key request has none: 204).
- ``GET /users/profile``: who the request acts as, with their role.
- ``GET /users/settings``: the user's own preferences, with the full notification table;
- ``PUT /users/settings``: replace them (a JSON object; ``notifications`` is checked against
  ``accounts.preferences``: known kinds and channels, true or false).

External systems do not sign in: they send an API key (``rkh_site.api_auth``).
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from django.contrib.auth import logout
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import QueryDict
from django.middleware.csrf import get_token
from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from utilities.api.errors import JSONParser
from utilities.api.fields import JSONObjectField, checked_metadata
from utilities.api.schema import error_responses

from . import preferences, services
from .models import User
from .roles import role_of
from .signin_limits import retry_after_seconds

#: Largest ``settings`` object, serialised, in characters.
SETTINGS_MAX_CHARS = 16_000


class LoginFailed(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The username or e-mail address and password do not match."
    default_code = "invalid_credentials"


class TooManyLoginAttempts(exceptions.Throttled):
    default_detail = "Too many failed sign-in attempts; try again later."


# --- serializers ---------------------------------------------------------------------


class ProfileSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Admin, Manager, User, Viewer or null.")
    settings = JSONObjectField(read_only=True)
    authenticated_by = serializers.SerializerMethodField(
        help_text="`api_key` or `session`: how this request was authenticated."
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "display_name",
            "first_name",
            "last_name",
            "role",
            "settings",
            "date_joined",
            "last_login",
            "authenticated_by",
        ]
        read_only_fields = fields

    def get_role(self, user: User) -> str | None:
        return role_of(user)

    def get_authenticated_by(self, user: User) -> str:
        request = self.context.get("request")
        return "api_key" if request is not None and request.auth is not None else "session"


class LoginSerializer(serializers.Serializer):
    login = serializers.CharField(max_length=254, help_text="Username or e-mail address.")
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)


class LoginResponseSerializer(serializers.Serializer):
    user = ProfileSerializer()
    csrf_token = serializers.CharField(
        help_text="Send it as `X-CSRFToken` with unsafe requests made with this session."
    )


def _checked_settings(value: Any) -> dict[str, Any]:
    try:
        checked = checked_metadata(value, SETTINGS_MAX_CHARS)
    except serializers.ValidationError as exc:
        # The same rules as an order's metadata, worded for settings.
        raise serializers.ValidationError(
            [str(m).replace("Metadata", "Settings") for m in exc.detail]
        ) from None
    try:
        return preferences.clean_settings(checked)
    except preferences.PreferencesError as exc:
        raise serializers.ValidationError(exc.details) from None


def _settings_schema(*, complete: bool) -> dict[str, Any]:
    """The settings object in OpenAPI terms, from ``accounts.preferences`` (one source).

    ``complete``: as answered (every kind and channel present) rather than as sent.
    """
    channels: dict[str, Any] = {
        "type": "object",
        "properties": {
            name: {"type": "boolean", "description": label}
            for name, label in preferences.CHANNELS.items()
        },
        "additionalProperties": False,
    }
    if complete:
        channels["required"] = list(preferences.CHANNELS)
    table: dict[str, Any] = {
        "type": "object",
        "description": "For each kind of notification, each channel on (true) or off (false); "
        "kinds and channels left out take their defaults (docs/notifications.md).",
        "properties": {
            name: {**channels, "description": label} for name, label in preferences.KINDS.items()
        },
        "additionalProperties": False,
    }
    if complete:
        table["required"] = list(preferences.KINDS)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {preferences.SETTINGS_KEY: table},
        "additionalProperties": True,
    }
    if complete:
        schema["required"] = [preferences.SETTINGS_KEY]
    return schema


# --- views -------------------------------------------------------------------------------


class LoginView(APIView):
    """Sign in with a password; the answer sets the session cookie."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = (JSONParser,)

    @extend_schema(
        summary="Sign in (session)",
        request=LoginSerializer,
        responses={
            200: LoginResponseSerializer,
            **error_responses(**{"415": "Not JSON (`unsupported_media_type`): forms are refused."}),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        login, password = serializer.validated_data["login"], serializer.validated_data["password"]
        credentials = {"email" if "@" in login else "username": login, "password": password}
        django_request = request._request
        adapter = get_adapter(django_request)
        try:
            user = adapter.authenticate(django_request, **credentials)
        except DjangoValidationError:  # allauth's "too many login attempts"
            raise TooManyLoginAttempts(wait=retry_after_seconds()) from None
        if user is None or not user.is_active:
            raise LoginFailed()
        adapter.login(django_request, user)
        request.user = user
        body = {
            "user": ProfileSerializer(user, context={"request": request}).data,
            "csrf_token": get_token(django_request),
        }
        return Response(body)


class LogoutView(APIView):
    """End the session; a no-op (204) for API-key requests and the signed-out."""

    permission_classes = (AllowAny,)

    @extend_schema(summary="Sign out (session)", request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        if request.user.is_authenticated and request.auth is None:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileView(APIView):
    """The user the request acts as (for an API key: the key's user)."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(summary="Who am I", responses=ProfileSerializer, tags=["users"])
    def get(self, request):
        return Response(ProfileSerializer(request.user, context={"request": request}).data)


_SETTINGS_ANSWER = {
    "type": "object",
    "properties": {"settings": _settings_schema(complete=True)},
    "required": ["settings"],
}


class SettingsView(APIView):
    """The user's own settings: read them, or replace them with the JSON object sent."""

    permission_classes = (IsAuthenticated,)
    parser_classes = (JSONParser,)

    @extend_schema(
        summary="My settings",
        description="The stored settings, with the complete notification table "
        "(defaults filled in).",
        responses={200: _SETTINGS_ANSWER, **error_responses()},
        tags=["users"],
    )
    def get(self, request):
        return Response({"settings": preferences.effective_settings(request.user.settings)})

    @extend_schema(
        summary="Replace my settings",
        description="The whole settings object (at most 16,000 characters of JSON). "
        "`notifications` holds, per kind, the channels on or off: unknown kinds, unknown "
        "channels and values other than true/false are refused (400 with `details` naming "
        "them); left-out ones take their defaults.",
        request={"application/json": _settings_schema(complete=False)},
        responses={
            200: _SETTINGS_ANSWER,
            **error_responses(**{"415": "Not JSON (`unsupported_media_type`)."}),
        },
        tags=["users"],
    )
    def put(self, request):
        no_body = not request.META.get("CONTENT_LENGTH", "").strip("0")
        if isinstance(request.data, QueryDict) or (no_body and not request.data):
            raise serializers.ValidationError({"settings": ["Send the settings as a JSON object."]})
        try:
            wanted = _checked_settings(request.data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"settings": exc.detail}) from None
        user = services.update_settings(request.user, wanted)
        return Response({"settings": preferences.effective_settings(user.settings)})


urlpatterns = [
    re_path(r"^auth/login/?$", LoginView.as_view(), name="auth-login"),
    re_path(r"^auth/logout/?$", LogoutView.as_view(), name="auth-logout"),
    re_path(r"^users/profile/?$", ProfileView.as_view(), name="user-profile"),
    re_path(r"^users/settings/?$", SettingsView.as_view(), name="user-settings"),
]
