"""DRF fields the apps' APIs share: free JSON objects the database can store, fast identity URLs.

``metadata`` on orders and events and a user's ``settings`` are free JSON objects; each must
be one PostgreSQL can store (no NUL, no lone surrogates), not nested without end, and of a
bounded size (each caller says how large).
"""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

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

    PLACEHOLDER = "Zq9PLACEHOLDER9qZ"

    def get_url(self, obj, view_name, request, format):
        key = getattr(obj, self.lookup_field)
        if key in (None, ""):
            return None
        templates = self.context.setdefault("_identity_url_templates", {})
        template = templates.get((view_name, format))
        if template is None:
            kwargs = {self.lookup_url_kwarg: self.PLACEHOLDER}
            template = self.reverse(view_name, kwargs=kwargs, request=request, format=format)
            templates[(view_name, format)] = template
        return template.replace(self.PLACEHOLDER, str(key))
