"""Role groups hold exactly the permissions of ``accounts.roles``; staff follows the role."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management.sql import emit_post_migrate_signal

from accounts import roles, services
from accounts.roles import ADMIN, MANAGER, ROLE_PERMISSIONS, ROLES, STAFF_ROLES, USER, VIEWER
from tests.conftest import make_user


def dotted(perms) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in perms}


def group_permissions(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return dotted(group.permissions.select_related("content_type"))


NAMED_PERMISSIONS = sorted(
    {
        name
        for wanted in ROLE_PERMISSIONS.values()
        if wanted != roles.ALL_PERMISSIONS
        for name in wanted
    }
)


@pytest.mark.parametrize("name", NAMED_PERMISSIONS)
def test_every_permission_named_in_roles_exists(db, name):
    """A typo in roles.py would otherwise be skipped silently by sync_roles."""
    app_label, codename = name.split(".", 1)
    assert Permission.objects.filter(
        content_type__app_label=app_label, codename=codename
    ).exists(), f"{name} is named in accounts/roles.py but no such permission exists"


def test_the_four_role_groups_exist_after_migrate(db):
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)


@pytest.mark.parametrize("role", [MANAGER, USER, VIEWER])
def test_role_groups_hold_exactly_their_permissions(db, role):
    assert group_permissions(role) == set(ROLE_PERMISSIONS[role])


def test_admin_group_holds_every_permission(db):
    assert ROLE_PERMISSIONS[ADMIN] == roles.ALL_PERMISSIONS
    assert group_permissions(ADMIN) == dotted(Permission.objects.select_related("content_type"))


def test_role_permissions_differ_as_intended(db):
    """Spot checks of the policy, independent of how the sets are built."""
    assert "orders.delete_order" in group_permissions(ADMIN)
    assert "orders.delete_order" not in group_permissions(MANAGER)
    assert "orders.assign_order" not in group_permissions(USER)
    assert "orders.view_all_orders" not in group_permissions(USER)
    assert not {p for p in group_permissions(VIEWER) if not p.split(".")[1].startswith("view_")}


def test_post_migrate_brings_groups_back_to_exactly_the_list(db):
    """Drift (an extra permission, a missing one, a deleted group) is undone by migrate."""
    manager = Group.objects.get(name=MANAGER)
    manager.permissions.add(Permission.objects.get(codename="delete_order"))
    viewer = Group.objects.get(name=VIEWER)
    viewer.permissions.remove(Permission.objects.get(codename="view_analytics"))
    Group.objects.filter(name=USER).delete()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    for role in (MANAGER, USER, VIEWER):
        assert group_permissions(role) == set(ROLE_PERMISSIONS[role])


def test_post_migrate_grants_a_permission_created_in_the_same_migrate(db):
    """A permission new in this migrate (e.g. a new Meta.permissions entry of a later app)
    must reach the roles in that same migrate, not only in the next one."""
    Permission.objects.filter(codename="view_analytics").delete()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert Permission.objects.filter(codename="view_analytics").exists()
    for role in (MANAGER, VIEWER):
        assert "orders.view_analytics" in group_permissions(role)
    assert group_permissions(ADMIN) == dotted(Permission.objects.select_related("content_type"))


# --- set_role ---------------------------------------------------------------


def role_groups(user) -> set[str]:
    return set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))


@pytest.mark.parametrize("role", ROLES)
def test_set_role_gives_exactly_one_role(db, role):
    user = make_user(None)
    for other in ROLES:  # start from the worst case: every role at once
        user.groups.add(Group.objects.get(name=other))

    services.set_role(user, role)

    assert role_groups(user) == {role}
    assert user.role == role


def test_set_role_keeps_non_role_groups_and_none_removes_every_role(db):
    team = Group.objects.create(name="Night shift")
    user = make_user(MANAGER)
    user.groups.add(team)

    services.set_role(user, USER)
    assert role_groups(user) == {USER}
    assert user.groups.filter(pk=team.pk).exists()

    services.set_role(user, None)
    assert role_groups(user) == set()
    assert user.groups.filter(pk=team.pk).exists()
    assert user.role is None


def test_set_role_refuses_unknown_role(db):
    user = make_user(USER)
    with pytest.raises(ValueError, match="Unknown role"):
        services.set_role(user, "Superhero")
    assert role_groups(user) == {USER}


def test_role_of_picks_the_highest_and_superuser_is_admin(db):
    user = make_user(VIEWER)
    user.groups.add(Group.objects.get(name=MANAGER))
    assert roles.role_of(user) == MANAGER

    superuser = make_user(None)
    superuser.is_superuser = True
    superuser.save()
    assert roles.role_of(superuser) == ADMIN


def test_role_permissions_take_effect_for_the_user(db):
    manager, viewer = make_user(MANAGER), make_user(VIEWER)
    assert manager.has_perm("orders.manage_all_orders")
    assert not manager.has_perm("orders.delete_order")
    assert viewer.has_perm("orders.view_all_orders")
    assert not viewer.has_perm("orders.change_order")


# --- is_staff follows the role ----------------------------------------------


def is_staff(user) -> bool:
    return type(user).objects.values_list("is_staff", flat=True).get(pk=user.pk)


@pytest.mark.parametrize("role", ROLES)
def test_set_role_sets_staff_for_admin_and_manager_only(db, role):
    user = make_user(None)
    assert is_staff(user) is False
    services.set_role(user, role)
    assert is_staff(user) is (role in STAFF_ROLES)


def test_staff_is_removed_when_role_goes_down(db):
    user = make_user(MANAGER)
    assert is_staff(user)
    services.set_role(user, USER)
    assert not is_staff(user)
    services.set_role(user, ADMIN)
    assert is_staff(user)
    services.set_role(user, None)
    assert not is_staff(user)


def test_staff_follows_user_groups_add_remove_clear_set(db):
    user = make_user(None)
    manager = Group.objects.get(name=MANAGER)

    user.groups.add(manager)
    assert is_staff(user)
    user.groups.remove(manager)
    assert not is_staff(user)
    user.groups.set([manager])
    assert is_staff(user)
    user.groups.clear()
    assert not is_staff(user)


def test_staff_follows_group_user_set_add_remove(db):
    a, b, bystander = make_user(None), make_user(None), make_user(MANAGER)
    manager = Group.objects.get(name=MANAGER)

    manager.user_set.add(a, b)
    assert is_staff(a)
    assert is_staff(b)

    manager.user_set.remove(a)
    assert not is_staff(a)
    assert is_staff(b)
    assert is_staff(bystander)


def test_staff_follows_group_user_set_clear(db):
    a, b = make_user(MANAGER), make_user(ADMIN)
    untouched_user = make_user(USER)

    Group.objects.get(name=MANAGER).user_set.clear()

    assert not is_staff(a)
    assert is_staff(b)  # still an Admin
    assert not is_staff(untouched_user)


def test_staff_stays_when_another_staff_role_remains(db):
    user = make_user(ADMIN)
    user.groups.add(Group.objects.get(name=MANAGER))
    Group.objects.get(name=ADMIN).user_set.remove(user)
    assert is_staff(user)


def test_a_non_staff_role_added_by_group_does_not_make_staff(db):
    user = make_user(None)
    Group.objects.get(name=VIEWER).user_set.add(user)
    assert not is_staff(user)
    Group.objects.get(name=USER).user_set.add(user)
    assert not is_staff(user)


def test_staff_flag_set_by_hand_is_corrected_on_the_next_role_change(db):
    user = make_user(VIEWER)
    type(user).objects.filter(pk=user.pk).update(is_staff=True)
    user.refresh_from_db()
    services.set_role(user, USER)
    assert not is_staff(user)
