"""The API's one permission class and the base views that carry it.

Every view of ``/api/v1/`` that needs a role says what it needs as data: ``needs`` (or
``needs_for(request)`` when it depends on the action), each a check of the user with the
sentence a refusal says, and ``object_action(request)``, the access action one object
is checked for. ``Allowed`` applies them, so the opening every permission class used to
repeat (signed in, has access to orders at all, ...) is written once; the checks themselves
are the access rule's (``utilities.access``). A ``BaseViewSet`` restricts its queryset to
what the user may see in ``initial()``, as NetBox's API views do: a row the user may not see
is 404, one they may see but not change is 403 with a sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from utilities import access
from utilities.access import Action
from utilities.querysets import RestrictedQuerySet


@dataclass(frozen=True)
class Need:
    """One thing a view needs of the signed-in user, and what a refusal says."""

    check: Callable[[Any], bool]
    message: str


def may(action: Action, message: str) -> Need:
    """The user may do ``action`` on some order (their scope for it is not empty)."""
    return Need(lambda user: access.order_scope(user, action) is not None, message)


#: Every view about orders: a role that sees orders at all (a user without one: 403).
SEES_ORDERS = may(Action.VIEW, "Your account has no access to orders.")


class Allowed(BasePermission):
    """Signed in and active, then each of the view's needs in turn (the first refused names
    itself); on one object, the access rule for the view's ``object_action``."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        for need in view.needs_for(request):
            if not need.check(user):
                self.message = need.message
                return False
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        wanted = view.object_action(request)
        if wanted is None or access.can(request.user, wanted, obj):
            return True
        self.message = f"You may not {wanted.value} order {obj.order_ref}."
        return False


class AccessMixin:
    """What a view needs: ``needs`` for every request, or ``needs_for`` by action."""

    permission_classes = [Allowed]
    needs: tuple[Need, ...] = (SEES_ORDERS,)

    def needs_for(self, request) -> Iterable[Need]:
        return self.needs

    def object_action(self, request) -> Action | None:
        """The access action one object is checked for (``None``: no object check)."""
        return None


class BaseAPIView(AccessMixin, APIView):
    """A view of the API that is not a list of rows (the view checks its order itself)."""


class BaseViewSet(AccessMixin, GenericViewSet):
    """Rows of a ``RestrictedQuerySet``, narrowed to what the user may see before the view
    runs: ``object_actions`` maps (viewset action, method) to the access action one row is
    checked for; reading is ``view``."""

    object_actions: dict[tuple[str, str], Action] = {}

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # authenticates, then ``Allowed``
        if isinstance(self.queryset, RestrictedQuerySet):
            self.queryset = self.queryset.restrict(request.user, Action.VIEW)

    def object_action(self, request) -> Action | None:
        return self.object_actions.get((self.action, request.method), Action.VIEW)
