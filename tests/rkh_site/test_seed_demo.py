"""``seed_demo``: demo users per role, events and orders; idempotent; only with DEBUG."""

from __future__ import annotations

import io

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command

from accounts.models import User
from accounts.roles import ADMIN, MANAGER, USER, VIEWER
from events.models import Event
from orders.models import Order, OrderEvent

#: Documented in the README and in seed_demo.py: username -> (role, password, staff).
DEMO = {
    "admin": (ADMIN, "rkh-demo-admin", True),
    "manager": (MANAGER, "rkh-demo-manager", True),
    "user": (USER, "rkh-demo-user", False),
    "viewer": (VIEWER, "rkh-demo-viewer", False),
}


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "events": Event.objects.count(),
        "orders": Order.objects.count(),
        "timeline": OrderEvent.objects.count(),
        "audit": LogEntry.objects.count(),
    }


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True


def test_refused_when_debug_is_off(db, settings):
    settings.DEBUG = False
    before = counts()
    with pytest.raises(CommandError, match="DEBUG"):
        seed()
    assert counts() == before
    assert not User.objects.filter(username__in=DEMO).exists()


@pytest.mark.parametrize("username", list(DEMO))
def test_demo_users_have_their_role_and_documented_password(db, debug_on, client, username):
    seed()
    role, password, staff = DEMO[username]
    user = User.objects.get(username=username)
    assert user.role == role
    assert user.groups.count() == 1
    assert user.is_staff is staff
    assert user.is_active
    assert not user.is_superuser
    assert client.login(username=username, password=password)
    assert not client.login(username=username, password="wrong-password")


def test_demo_data_is_created_through_the_services(db, debug_on):
    output = seed()
    assert Event.objects.count() == 3
    orders = Order.objects.filter(metadata__demo=True)
    assert orders.count() == 5
    assert "created order" in output
    for order in orders:
        seqs = list(order.timeline.order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))
        assert order.timeline.first().kind == OrderEvent.Kind.ORDER_CREATED
        if order.status != Order.Status.DRAFT:
            last = order.timeline.order_by("seq").last()
            assert last.payload["to"] == order.status
    demo_user = User.objects.get(username="user")
    assert Order.objects.filter(assigned_to=demo_user).exists()


def test_running_twice_changes_nothing(db, debug_on):
    seed()
    after_first = counts()
    statuses = dict(Order.objects.values_list("order_ref", "status"))

    output = seed()

    assert counts() == after_first
    assert dict(Order.objects.values_list("order_ref", "status")) == statuses
    assert "created" not in output


def test_existing_demo_user_is_left_alone(db, debug_on):
    User.objects.create_user(username="viewer", email="viewer@elsewhere.example", password="own")
    seed()
    viewer = User.objects.get(username="viewer")
    assert viewer.email == "viewer@elsewhere.example"
    assert viewer.check_password("own")
    assert User.objects.filter(username__in=DEMO).count() == len(DEMO)
