"""Helpers the apps' Django admins share: the access rule on every admin of order data, and
bulk actions that go through a service per row and say what each refusal was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied

from utilities import access
from utilities.errors import OrderError


def apply_each(
    modeladmin: Any,
    request: Any,
    queryset: Any,
    call: Callable[[Any], Any],
    *,
    label: Callable[[Any], str],
    done: str,
) -> None:
    """Run one service call per selected object: report how many went through (``done``
    with ``{n}``) and each refusal with its reason."""
    succeeded, refused = 0, []
    for obj in queryset:
        try:
            call(obj)
            succeeded += 1
        except (OrderError, PermissionDenied) as exc:
            refused.append(f"{label(obj)}: {exc}")
    if succeeded:
        modeladmin.message_user(request, done.format(n=succeeded), messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.WARNING)


class RestrictedAdminMixin:
    """Narrow an admin of order data to the access rule: the rows (a ``RestrictedQuerySet``)
    and each object's view/change/delete through its order (``order_field``; ``None`` when
    the row is the order itself)."""

    order_field: str | None = "order"

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user, access.Action.VIEW)

    def _order_of(self, obj):
        return obj if self.order_field is None else getattr(obj, self.order_field)

    def _may(self, request, action: access.Action, obj) -> bool:
        return obj is None or access.can(request.user, action, self._order_of(obj))

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        return allowed and self._may(request, access.Action.VIEW, obj)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and self._may(request, access.Action.CHANGE, obj)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and self._may(request, access.Action.DELETE, obj)
