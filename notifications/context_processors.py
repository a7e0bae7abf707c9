"""Template context: the bell in the header (unread count, newest number) on every page.

One query per page (an aggregate): pages have query budgets (the order page's is tested).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Q

from .models import Notification


def bell(request) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    found = Notification.objects.for_user(user).aggregate(
        unread=Count("pk", filter=Q(in_app=True, read_at__isnull=True)), last=Max("pk")
    )
    return {"bell_unread": found["unread"] or 0, "bell_last_id": found["last"] or 0}
