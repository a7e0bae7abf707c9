"""The DRF side of the one access rule (utilities/access.py) shared by the API's views."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from utilities import access


class SeesOrders(BasePermission):
    """Signed in with access to orders at all (Viewer and up); each view then checks the
    order itself with ``access.can`` / ``Order.objects.restrict``."""

    message = "Your account has no access to orders."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return access.order_scope(user, access.Action.VIEW) is not None
