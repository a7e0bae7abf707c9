"""Users and their roles are audited, with actor and address when done in the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from accounts import services, tasks
from accounts.models import User
from accounts.roles import ADMIN, MANAGER, USER, VIEWER
from events.models import Event
from tests.conftest import make_user

Action = LogEntry.Action


def user_entries(pk) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(User), object_pk=str(pk)
        ).order_by("pk")
    )


def group_changes(entries) -> list[tuple[str, list[str]]]:
    """The ``groups`` m2m changes as (operation, sorted group names)."""
    return [
        (e.changes_dict["groups"]["operation"], sorted(e.changes_dict["groups"]["objects"]))
        for e in entries
        if "groups" in e.changes_dict
    ]


def test_user_create_update_delete_are_audited(db):
    user = User.objects.create_user(username="ann", email="ann@test.example", password="secret-1")
    pk = user.pk
    user.display_name = "Ann"
    user.save()
    user.set_password("secret-2")
    user.save()
    user.delete()

    log = user_entries(pk)
    assert [e.action for e in log] == [Action.CREATE, Action.UPDATE, Action.UPDATE, Action.DELETE]
    assert log[1].changes_dict["display_name"] == ["", "Ann"]
    old, new = log[2].changes_dict["password"]
    assert user.password not in (old, new)  # masked, never the hash itself
    assert "secret" not in str(log[2].changes_dict)


def test_setting_a_role_records_exactly_the_groups_added_and_removed(db):
    user = make_user(None)
    before = len(user_entries(user.pk))

    services.set_role(user, USER)
    services.set_role(user, MANAGER)
    services.set_role(user, MANAGER)  # no change: nothing to record
    services.set_role(user, None)

    changes = group_changes(user_entries(user.pk)[before:])
    assert changes == [
        ("add", [USER]),
        ("delete", [USER]),
        ("add", [MANAGER]),
        ("delete", [MANAGER]),
    ]


def test_group_membership_changes_by_hand_are_recorded(db):
    user = make_user(None)
    viewer = Group.objects.get(name=VIEWER)
    user.groups.add(viewer)
    user.groups.remove(viewer)
    assert group_changes(user_entries(user.pk)) == [("add", [VIEWER]), ("delete", [VIEWER])]


def user_form_data(user: User, **overrides) -> dict:
    data = {
        "username": user.username,
        "display_name": user.display_name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "settings": "{}",
        "groups": [g.pk for g in user.groups.all()],
        "is_active": "on",
        "user_permissions": [],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_role_change_in_the_admin_records_actor_and_address(client, users):
    admin_user, target = users[ADMIN], users[USER]
    client.force_login(admin_user)
    before = len(user_entries(target.pk))
    manager_group = Group.objects.get(name=MANAGER)

    response = client.post(
        f"/admin/accounts/user/{target.pk}/change/",
        user_form_data(target, display_name="Promoted", groups=[manager_group.pk]),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    target.refresh_from_db()
    assert target.display_name == "Promoted"
    assert target.role == MANAGER
    assert target.is_staff

    new_entries = user_entries(target.pk)[before:]
    assert new_entries
    assert all(e.actor == admin_user for e in new_entries)
    assert all(e.remote_addr == "127.0.0.1" for e in new_entries)
    assert ("add", [MANAGER]) in group_changes(new_entries)
    assert ("delete", [USER]) in group_changes(new_entries)
    field_changes = {k for e in new_entries for k in e.changes_dict}
    assert {"display_name", "is_staff", "groups"} <= field_changes


def test_changes_outside_a_request_have_no_actor(db):
    user = make_user(VIEWER)
    assert all(e.actor is None and e.remote_addr is None for e in user_entries(user.pk))


# --- retention ---------------------------------------------------------------


@pytest.fixture
def aged_entries(db):
    """Three audit entries (one per event), backdated 400, 100 and 0 days."""
    ages = {}
    for days in (400, 100, 0):
        event = Event.objects.create(event_id=f"EVT-AGE-{days}")
        entry = LogEntry.objects.get_for_object(event).get()
        LogEntry.objects.filter(pk=entry.pk).update(timestamp=timezone.now() - timedelta(days=days))
        ages[days] = entry.pk
    return ages


def surviving(ages) -> set[int]:
    return {days for days, pk in ages.items() if LogEntry.objects.filter(pk=pk).exists()}


def test_purge_deletes_only_entries_older_than_the_retention(aged_entries, settings):
    settings.AUDITLOG_RETENTION_DAYS = 365
    others = LogEntry.objects.exclude(pk__in=aged_entries.values()).count()

    assert services.purge_old_audit_entries() == 1
    assert surviving(aged_entries) == {100, 0}
    assert LogEntry.objects.exclude(pk__in=aged_entries.values()).count() == others


def test_purge_with_explicit_days(aged_entries):
    assert services.purge_old_audit_entries(days=30) == 2
    assert surviving(aged_entries) == {0}


def test_purge_with_zero_days_keeps_everything(aged_entries, settings):
    settings.AUDITLOG_RETENTION_DAYS = 0
    total = LogEntry.objects.count()
    assert services.purge_old_audit_entries() == 0
    assert LogEntry.objects.count() == total
    assert surviving(aged_entries) == {400, 100, 0}


def test_retention_task_uses_the_setting(aged_entries, settings):
    settings.AUDITLOG_RETENTION_DAYS = 50
    assert tasks.purge_old_audit_entries() == 2
    assert surviving(aged_entries) == {0}
