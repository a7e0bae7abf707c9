"""Template context: the bell in the header (unread count, newest number) on every page."""

from __future__ import annotations

from typing import Any

from .models import Notification


def bell(request) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    mine = Notification.objects.for_user(user)
    return {
        "bell_unread": mine.in_app().unread().count(),
        "bell_last_id": mine.order_by("-id").values_list("pk", flat=True).first() or 0,
    }
