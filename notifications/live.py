"""What the bell shows, as the live sockets send it (``utilities.user_streams``).

``bell_state(user)`` is the ``notifications`` stream: the unread count of the
notification centre and the newest few notifications. The page compares their
numbers with the newest it knows and shows a browser notification for each new
one the user wants in the browser (``static/js/bell.js``). A snapshot, not a
stream of changes: a socket that was away sends the present, and a lost
message cannot leave the count wrong.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from .models import Notification

#: Notifications each message carries (new ones since the page's last look, in practice).
LATEST = 5


def at_label(when) -> str:
    return date_format(timezone.localtime(when), "j M Y, H:i")


def item(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url or reverse("notification_list"),
        "open_url": reverse("notification_open", args=[notification.pk]),
        "at": notification.created_at.isoformat(),
        "at_label": at_label(notification.created_at),
        "read": notification.read_at is not None,
        "in_app": notification.in_app,
        "system": notification.browser,
    }


def unread_count(user: Any) -> int:
    return Notification.objects.for_user(user).in_app().unread().count()


def bell_state(user: Any) -> dict[str, Any]:
    """The ``notifications`` message: ``{"type", "unread", "latest": [...]}``; sync."""
    latest = Notification.objects.for_user(user).order_by("-id")[:LATEST]
    return {
        "type": "notifications",
        "unread": unread_count(user),
        "latest": [item(n) for n in latest],
    }
