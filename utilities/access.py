"""The one access rule for orders, used by pages, API, admin and WebSockets.

Role permissions (``accounts.roles``) say *what* a user may do; this module
says *on which orders*:

- ``view_all_orders`` widens viewing to every order (Manager, Viewer, Admin);
- ``manage_all_orders`` widens every write to every order (Manager, Admin);
- otherwise a user acts only on orders they created or are assigned to.

Assigning, deleting and answering the review queue need the all-orders scope.
Approving an order held for approval (``APPROVE``) needs it too, except that the
order's own user may when the hold that applies says so (the order keeps that in
``approval_owner_may_approve``; docs/approval.md).
Images and timeline entries follow their order. Whether a write makes sense
*now* (e.g. a completed order cannot be cancelled) is the services' business,
not access.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.db.models import Q


class Action(StrEnum):
    VIEW = "view"
    CHANGE = "change"
    UPLOAD = "upload"
    PROCESS = "process"
    CANCEL = "cancel"
    ASSIGN = "assign"
    DELETE = "delete"
    #: Answer the AI review queue (approve, redo, replace with a hand-edited file).
    REVIEW = "review"
    #: Approve or turn down the results of an order held for approval.
    APPROVE = "approve"


#: The permission a user needs for each action at all.
REQUIRED_PERMISSION: dict[Action, str] = {
    Action.VIEW: "orders.view_order",
    Action.CHANGE: "orders.change_order",
    Action.UPLOAD: "orders.add_image",
    Action.PROCESS: "orders.process_order",
    Action.CANCEL: "orders.change_order",
    Action.ASSIGN: "orders.assign_order",
    Action.DELETE: "orders.delete_order",
    Action.REVIEW: "orders.process_order",
    Action.APPROVE: "orders.process_order",
}

#: Actions a user may take on their own and assigned orders without a wider scope.
OWN_SCOPE_ACTIONS = frozenset(
    {Action.VIEW, Action.CHANGE, Action.UPLOAD, Action.PROCESS, Action.CANCEL}
)

CREATE_PERMISSION = "orders.add_order"
ANALYTICS_PERMISSION = "orders.view_analytics"
#: Export or erase everything about one customer (Admins only: accounts.roles).
CUSTOMER_DATA_PERMISSION = "orders.handle_customer_data"


def _all_scope_permission(action: Action) -> str:
    return "orders.view_all_orders" if action is Action.VIEW else "orders.manage_all_orders"


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def order_scope(user: Any, action: Action | str, prefix: str = "") -> Q | None:
    """The orders ``user`` may take ``action`` on, as a filter.

    Returns ``None`` for "no orders at all" and ``Q()`` for "every order".
    ``prefix`` lets related tables filter through their order (``"order__"``).
    """
    action = Action(action)
    if not _active(user) or not user.has_perm(REQUIRED_PERMISSION[action]):
        return None
    if user.has_perm(_all_scope_permission(action)):
        return Q()
    own = Q(**{f"{prefix}created_by": user}) | Q(**{f"{prefix}assigned_to": user})
    if action is Action.APPROVE:
        return own & Q(**{f"{prefix}approval_owner_may_approve": True})
    if action not in OWN_SCOPE_ACTIONS:
        return None
    return own


def can(user: Any, action: Action | str, order: Any) -> bool:
    """May ``user`` take ``action`` on this order? Same rule as ``order_scope``."""
    action = Action(action)
    if not _active(user) or not user.has_perm(REQUIRED_PERMISSION[action]):
        return False
    if user.has_perm(_all_scope_permission(action)):
        return True
    if action is Action.APPROVE:
        return bool(order.approval_owner_may_approve) and user.pk in {
            order.created_by_id,
            order.assigned_to_id,
        }
    if action not in OWN_SCOPE_ACTIONS:
        return False
    return user.pk in {order.created_by_id, order.assigned_to_id}


def can_create_order(user: Any) -> bool:
    return _active(user) and user.has_perm(CREATE_PERMISSION)


def can_review(user: Any) -> bool:
    """May ``user`` answer the review queue at all (the review page, its nav link)?"""
    return order_scope(user, Action.REVIEW) is not None


def can_view_analytics(user: Any) -> bool:
    return _active(user) and user.has_perm(ANALYTICS_PERMISSION)


def can_handle_customer_data(user: Any) -> bool:
    """May ``user`` export or erase a customer's data (every order of theirs, whoever made it)?"""
    return _active(user) and user.has_perm(CUSTOMER_DATA_PERMISSION)
