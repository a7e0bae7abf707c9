"""The order access rule: ``access.can`` and ``restrict`` agree with the intended policy.

The policy is written out below as a plain table, independently of how
``utilities.access`` derives it from permissions, so a change to the roles or to
the rule that alters who may do what shows up here.
"""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.roles import ADMIN, MANAGER, USER, VIEWER
from orders.models import Image, Order, OrderEvent
from tests.conftest import make_user
from utilities import access

A = access.Action
EVERYTHING = frozenset(A)
OWN_WORK = frozenset({A.VIEW, A.CHANGE, A.UPLOAD, A.PROCESS, A.CANCEL})
VIEW_ONLY = frozenset({A.VIEW})
NOTHING = frozenset()

RELATIONS = ("own", "assigned", "other")

#: subject -> order relation -> the actions the subject may take on such an order.
#: "own": the subject created it; "assigned": someone else created it and assigned it
#: to the subject; "other": neither (created by and assigned to other people).
POLICY: dict[str, dict[str, frozenset]] = {
    "Admin": {"own": EVERYTHING, "assigned": EVERYTHING, "other": EVERYTHING},
    "Manager": {
        "own": EVERYTHING - {A.DELETE},
        "assigned": EVERYTHING - {A.DELETE},
        "other": EVERYTHING - {A.DELETE},
    },
    "User": {"own": OWN_WORK, "assigned": OWN_WORK, "other": NOTHING},
    "Viewer": {"own": VIEW_ONLY, "assigned": VIEW_ONLY, "other": VIEW_ONLY},
    "no role": {"own": NOTHING, "assigned": NOTHING, "other": NOTHING},
    "inactive Admin": {"own": NOTHING, "assigned": NOTHING, "other": NOTHING},
    "inactive User": {"own": NOTHING, "assigned": NOTHING, "other": NOTHING},
    # Nobody's order is an anonymous visitor's own or assigned one.
    "anonymous": {"other": NOTHING},
}

SUBJECTS = tuple(POLICY)

#: subject -> (can_create_order, can_view_analytics)
GLOBAL_POLICY = {
    "Admin": (True, True),
    "Manager": (True, True),
    "User": (True, False),
    "Viewer": (False, True),
    "no role": (False, False),
    "inactive Admin": (False, False),
    "inactive User": (False, False),
    "anonymous": (False, False),
}

_refs = itertools.count(1)


def make_subject(name: str):
    if name == "anonymous":
        return AnonymousUser()
    if name == "no role":
        return make_user(None)
    if name.startswith("inactive "):
        user = make_user(name.removeprefix("inactive "))
        user.is_active = False
        user.save()
        return type(user).objects.get(pk=user.pk)
    assert name in (ADMIN, MANAGER, USER, VIEWER)
    return make_user(name)


def raw_order(event, created_by, assigned_to=None) -> Order:
    """An order made with the ORM: roles that may not create orders can still 'own' one."""
    return Order.objects.create(
        order_ref=f"ORD-1999-{next(_refs):06d}",
        event=event,
        customer_name="Customer",
        order_date=timezone.now(),
        created_by=created_by,
        assigned_to=assigned_to,
    )


@pytest.fixture
def world(db, event, make_image):
    """Build a subject and one order per relation, each with an image and a timeline row."""

    def _build(subject_name: str):
        subject = make_subject(subject_name)
        stranger, stranger2 = make_user(USER), make_user(USER)
        orders = {"other": raw_order(event, stranger, assigned_to=stranger2)}
        if subject.is_authenticated:
            orders["own"] = raw_order(event, subject)
            orders["assigned"] = raw_order(event, stranger, assigned_to=subject)
        for order in orders.values():
            make_image(order)
            OrderEvent.objects.create(order=order, seq=1, kind=OrderEvent.Kind.ORDER_CREATED)
        return subject, orders

    return _build


@pytest.mark.parametrize("action", list(A))
@pytest.mark.parametrize("subject_name", SUBJECTS)
def test_can_and_restrict_agree_with_policy(world, subject_name, action):
    """One subject, one action, every order relation: the policy table's row, cell by cell."""
    subject, orders = world(subject_name)
    expected = {relation: action in allowed for relation, allowed in POLICY[subject_name].items()}

    def restricted(model, path):
        allowed_ids = set(model.objects.restrict(subject, action).values_list(path, flat=True))
        return {relation: order.pk in allowed_ids for relation, order in orders.items()}

    assert {rel: access.can(subject, action, o) for rel, o in orders.items()} == expected
    # Plain strings (as the API and WebSocket layers pass them) give the same answer.
    assert {rel: access.can(subject, action.value, o) for rel, o in orders.items()} == expected
    assert restricted(Order, "pk") == expected
    # Images and timeline entries follow their order.
    assert restricted(Image, "order_id") == expected
    assert restricted(OrderEvent, "order_id") == expected
    if action is A.VIEW:
        visible = set(Order.objects.visible_to(subject).values_list("pk", flat=True))
        assert {rel: o.pk in visible for rel, o in orders.items()} == expected


@pytest.mark.parametrize("subject_name", SUBJECTS)
def test_create_and_analytics_per_role(db, subject_name):
    subject = make_subject(subject_name)
    may_create, may_see_analytics = GLOBAL_POLICY[subject_name]
    assert access.can_create_order(subject) is may_create
    assert access.can_view_analytics(subject) is may_see_analytics


def test_no_user_at_all_may_do_nothing(db, event):
    order = raw_order(event, make_user(USER))
    for action in A:
        assert access.can(None, action, order) is False
        assert not Order.objects.restrict(None, action).exists()
    assert access.can_create_order(None) is False
    assert access.can_view_analytics(None) is False


def test_unknown_action_is_an_error(db, event):
    user = make_user(ADMIN)
    order = raw_order(event, user)
    with pytest.raises(ValueError, match="explode"):
        access.can(user, "explode", order)
    with pytest.raises(ValueError, match="explode"):
        Order.objects.restrict(user, "explode")


def test_a_user_gains_access_when_assigned_and_loses_it_when_unassigned(db, event):
    user, creator = make_user(USER), make_user(USER)
    order = raw_order(event, creator)
    assert not access.can(user, A.VIEW, order)

    order.assigned_to = user
    order.save()
    assert access.can(user, A.PROCESS, order)
    assert Order.objects.restrict(user, A.PROCESS).filter(pk=order.pk).exists()

    order.assigned_to = None
    order.save()
    assert not access.can(user, A.VIEW, order)
    assert not Order.objects.visible_to(user).filter(pk=order.pk).exists()
