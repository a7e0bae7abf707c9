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


def test_user_history_page_shows_the_role_change(client, users):
    client.force_login(users["Admin"])
    target = users["Viewer"]
    response = client.get(f"{CHANGELIST}{target.pk}/auditlog/")
    assert response.status_code == 200
    entries = list(response.context["log_entries"])
    assert any("groups" in e.changes_dict for e in entries)
