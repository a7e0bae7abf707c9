"""Which kinds of notification a user can receive at all (the settings page shows those)."""

from __future__ import annotations

from typing import Any

from accounts import preferences
from utilities import access

from .compose import BACKUP_ALERTS, SECURITY_ALERTS, SERVICE_ALERTS


def kinds_for(user: Any) -> list[str]:
    """Order kinds for anyone who sees orders; outages for Managers and Admins; failed
    sign-ins and failed backups for Admins (their permissions, ``accounts.roles``)."""
    kinds = []
    sees_orders = access.order_scope(user, access.Action.VIEW) is not None
    for kind in preferences.KINDS:
        if kind == "service_down":
            allowed = user.has_perm(SERVICE_ALERTS)
        elif kind == "failed_signins":
            allowed = user.has_perm(SECURITY_ALERTS)
        elif kind == "backup_failed":
            allowed = user.has_perm(BACKUP_ALERTS)
        else:
            allowed = sees_orders
        if allowed:
            kinds.append(kind)
    return kinds
