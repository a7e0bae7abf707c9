"""The user admin: the roles column and the role filter."""

from __future__ import annotations

import pytest

from accounts.roles import ROLES

CHANGELIST = "/admin/accounts/user/"


def listed(response) -> set[str]:
    return {user.username for user in response.context["cl"].result_list}


def test_user_list_shows_the_roles_column(client, users):
    client.force_login(users["Admin"])
    response = client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "column-roles" in html
    assert listed(response) == {u.username for u in users.values()}
    cl = response.context["cl"]
    assert "roles" in cl.list_display
    roles_of = {u.username: cl.model_admin.roles(u) for u in cl.result_list}
    assert roles_of[users["Manager"].username] == "Manager"
    assert roles_of[users["norole"].username] == "—"


@pytest.mark.parametrize("role", ROLES)
def test_role_filter_lists_only_that_roles_members(client, users, role):
    client.force_login(users["Admin"])
    response = client.get(CHANGELIST, {"role": role})
    assert response.status_code == 200
    expected = {users[role].username}
    if role == "User":
        expected.add(users["other"].username)
    assert listed(response) == expected


def test_role_filter_for_users_without_a_role(client, users):
    client.force_login(users["Admin"])
    response = client.get(CHANGELIST, {"role": "none"})
    assert listed(response) == {users["norole"].username}


def test_manager_may_view_but_not_change_users(client, users):
    client.force_login(users["Manager"])
    assert client.get(CHANGELIST).status_code == 200
    target = users["User"]
    page = client.get(f"{CHANGELIST}{target.pk}/change/")
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    response = client.post(
        f"{CHANGELIST}{target.pk}/change/",
        {"username": target.username, "email": target.email, "is_superuser": "on"},
    )
    assert response.status_code == 403
    target.refresh_from_db()
    assert not target.is_superuser


@pytest.mark.parametrize("who", ["User", "Viewer", "norole"])
def test_non_staff_cannot_reach_the_user_admin(client, users, who):
    client.force_login(users[who])
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize("who", ["User", "Viewer", "norole"])
def test_signed_in_without_back_office_access_gets_the_products_403(client, users, who):
    """Not the admin's sign-in form ("authenticated as …, but are not authorized"): they are
    signed in; the back office is not theirs (rkh_site/admin_login.py)."""
    client.force_login(users[who])
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-testid="error-403"' in html
    assert "The back office is for managers and administrators." in html
    assert "not authorized" not in html
    assert 'name="password"' not in html


def test_signed_out_gets_the_back_offices_sign_in_form(client, users):
    response = client.get("/admin/", follow=True)
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": users["Manager"].username, "password": "pw", "next": "/admin/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_user_history_page_shows_the_role_change(client, users):
    client.force_login(users["Admin"])
    target = users["Viewer"]
    response = client.get(f"{CHANGELIST}{target.pk}/auditlog/")
    assert response.status_code == 200
    entries = list(response.context["log_entries"])
    assert any("groups" in e.changes_dict for e in entries)


# --- roles are given in the user admin, defined in code ------------------------


def _change_form_data(user, **extra):
    data = {
        "username": user.username,
        "email": user.email,
        "display_name": "",
        "first_name": "",
        "last_name": "",
        "settings": "{}",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    data.update(extra)
    return data


def test_role_field_offers_exactly_the_four_roles_and_no_per_user_permissions(client, users):
    client.force_login(users["Admin"])
    form = client.get(f"{CHANGELIST}{users['User'].pk}/change/").context["adminform"].form
    assert sorted(g.name for g in form.fields["groups"].queryset) == sorted(ROLES)
    assert "user_permissions" not in form.fields
    assert "is_superuser" not in form.fields  # an Admin-role user is no superuser


def test_admin_gives_a_role_in_the_user_admin_and_staff_follows(client, users):
    from django.contrib.auth.models import Group

    target = users["Viewer"]
    client.force_login(users["Admin"])
    manager = Group.objects.get(name="Manager")
    response = client.post(
        f"{CHANGELIST}{target.pk}/change/", _change_form_data(target, groups=[manager.pk])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    target.refresh_from_db()
    assert [g.name for g in target.groups.all()] == ["Manager"]
    assert target.is_staff


def test_superuser_flag_alone_also_updates_staff(client, users):
    from accounts.models import User

    root = User.objects.create_superuser("root", "root@test.example", "pw")
    target = users["norole"]
    client.force_login(root)
    form = client.get(f"{CHANGELIST}{target.pk}/change/").context["adminform"].form
    assert "is_superuser" in form.fields
    response = client.post(
        f"{CHANGELIST}{target.pk}/change/", _change_form_data(target, is_superuser="on")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    target.refresh_from_db()
    assert target.is_superuser
    assert target.is_staff


def test_role_groups_are_shown_read_only(client, users):
    from django.contrib.auth.models import Group

    client.force_login(users["Admin"])
    listing = client.get("/admin/auth/group/")
    assert listing.status_code == 200
    assert {g.name for g in listing.context["cl"].result_list} >= set(ROLES)
    viewer = Group.objects.get(name="Viewer")
    before = set(viewer.permissions.values_list("pk", flat=True))
    page = client.get(f"/admin/auth/group/{viewer.pk}/change/")
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    response = client.post(f"/admin/auth/group/{viewer.pk}/change/", {"name": "Renamed"})
    assert response.status_code == 403
    assert client.get("/admin/auth/group/add/").status_code == 403
    viewer.refresh_from_db()
    assert viewer.name == "Viewer"
    assert set(viewer.permissions.values_list("pk", flat=True)) == before
