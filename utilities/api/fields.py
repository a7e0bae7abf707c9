"""DRF fields the apps' APIs share: free JSON objects the database can store, fast identity URLs.

``metadata`` on orders and events and a user's ``settings`` are free JSON objects; each must
be one PostgreSQL can store (no NUL, no lone surrogates), not nested without end, and of a
bounded size (each caller says how large).
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

#: Largest ``metadata`` object, serialised, in characters (callers may pass their own).
METADATA_MAX_CHARS = 32_000


def _check_json(value: Any, depth: int = 0) -> None:
    """Strings the database can store (no NUL, no lone surrogates), bounded nesting."""
    if depth > 20:
        raise serializers.ValidationError("Metadata is nested too deeply (20 levels at most).")
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError("Metadata cannot contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError("Metadata must be valid Unicode text.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(key, depth + 1)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def checked_metadata(value: Any, max_chars: int = METADATA_MAX_CHARS) -> dict[str, Any]:
    """A ``metadata`` value: a JSON object the database can store, of bounded size."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("Metadata is a JSON object.")
    _check_json(value)
    if len(json.dumps(value)) > max_chars:
        raise serializers.ValidationError(f"Metadata is limited to {max_chars} characters of JSON.")
    return value


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A free JSON object (documented as one; other JSON values are refused by the serializer)."""


class FastIdentityField(serializers.HyperlinkedIdentityField):
    """DRF's identity URL, but ``reverse()`` runs once per answer, not once per row.

    The URL of the first row is made with a placeholder the route's pattern
    accepts, and each row's key is put in its place: 50 reverses were a fifth
    of a list page's time. Only for keys that need no quoting in a path
    (order references and Event IDs: letters, digits, ``.-_``).
    """

    def get_url(self, obj, view_name, request, format):
        return identity_url(
            self.context, view_name, self.lookup_url_kwarg, getattr(obj, self.lookup_field), format
        )


#: What stands for the key in a route's URL made once per answer (``identity_url``).
PLACEHOLDER = "Zq9PLACEHOLDER9qZ"


def identity_url(
    context: dict[str, Any],
    view_name: str,
    lookup_url_kwarg: str,
    key: object,
    format: str | None = None,
) -> str | None:
    """The absolute URL of ``view_name`` for ``key``, from a template made once per answer.

    The template is kept in the serializer's context (one per response), so a list page
    reverses each route once instead of once per row. For keys that need no quoting in a path.
    """
    if key in (None, ""):
        return None
    templates = context.setdefault("_identity_url_templates", {})
    template = templates.get((view_name, format))
    if template is None:
        template = reverse(
            view_name,
            kwargs={lookup_url_kwarg: PLACEHOLDER},
            request=context["request"],
            format=format,
        )
        templates[(view_name, format)] = template
    return template.replace(PLACEHOLDER, str(key))


def iso_datetime(value: datetime | None, tz: tzinfo | None) -> str | None:
    """A datetime as DRF's ``DateTimeField`` writes it (ISO 8601, in ``tz``, ``Z`` for UTC).

    For serializers that write their rows by hand (``to_representation``): DRF's generic
    path costs tens of microseconds per field, a fifth of a list page's time.
    """
    if value is None:
        return None
    if tz is not None and timezone.is_aware(value):
        value = value.astimezone(tz)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def representation_timezone() -> tzinfo | None:
    """The time zone DRF's ``DateTimeField`` writes datetimes in (the current one)."""
    return timezone.get_current_timezone() if settings.USE_TZ else None
