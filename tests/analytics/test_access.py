"""Who may open the analytics page, its JSON and its CSV: Admin, Manager and Viewer.

Users (own and assigned orders only) and accounts without a role are refused with 403;
signed-out visitors are sent to sign in (page, CSV) or get a JSON 403 (JSON).
"""

from __future__ import annotations

import pytest

from accounts.roles import ADMIN, MANAGER, USER, VIEWER

pytestmark = pytest.mark.django_db

PAGE, JSON, CSV = "/analytics/", "/analytics/data.json", "/analytics/export.csv"
ALLOWED = (ADMIN, MANAGER, VIEWER)
REFUSED = (USER, "other", "norole")


@pytest.mark.parametrize("url", [PAGE, JSON, CSV])
@pytest.mark.parametrize("role", ALLOWED)
def test_allowed_roles_get_the_answer(client, users, role, url):
    client.force_login(users[role])
    response = client.get(url)
    assert response.status_code == 200
    expected_type = {PAGE: "text/html", JSON: "application/json", CSV: "text/csv"}[url]
    assert response["Content-Type"].startswith(expected_type)


@pytest.mark.parametrize("url", [PAGE, JSON, CSV])
@pytest.mark.parametrize("role", REFUSED)
def test_other_roles_are_refused(client, users, role, url):
    client.force_login(users[role])
    response = client.get(url)
    assert response.status_code == 403
    if url == JSON:
        assert response.json()["error"]["code"] == "permission_denied"
    else:
        assert b"<canvas" not in response.content
        assert not response["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize("url", [PAGE, CSV])
def test_signed_out_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/analytics/")


def test_signed_out_scripts_get_a_json_403(client):
    response = client.get(JSON)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "signed_out"


def test_a_superuser_without_a_role_is_allowed(client, django_user_model):
    boss = django_user_model.objects.create_superuser("root", "root@test.example", "pw")
    client.force_login(boss)
    assert client.get(PAGE).status_code == 200


@pytest.mark.parametrize("url", [PAGE, JSON, CSV])
def test_only_get_is_answered(client, users, url):
    client.force_login(users[MANAGER])
    assert client.post(url).status_code == 405


@pytest.mark.parametrize(
    ("role", "shown"),
    [(ADMIN, True), (MANAGER, True), (VIEWER, True), (USER, False), ("norole", False)],
)
def test_nav_link_only_for_roles_that_may_open_it(client, users, role, shown):
    client.force_login(users[role])
    html = client.get("/").content.decode()
    assert ('data-testid="nav-analytics"' in html) is shown


def test_nav_link_marks_the_analytics_page_as_current(client, users):
    client.force_login(users[VIEWER])
    html = client.get(PAGE).content.decode()
    assert 'href="/analytics/" aria-current="page" data-testid="nav-analytics"' in html
