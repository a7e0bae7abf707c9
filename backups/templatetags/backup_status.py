"""``{% backup_status %}``: the admin index's line about the last backup."""

from __future__ import annotations

from typing import Any

from django import template

from .. import status

register = template.Library()


@register.inclusion_tag("backups/status_line.html", takes_context=True)
def backup_status(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm(status.VIEW_PERMISSION):
        return {"backup_status": None}
    return {"backup_status": status.current()}
