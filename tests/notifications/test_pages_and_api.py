"""The notification centre's pages and API: each user reaches only their own notifications,
and only those about orders they may still view; marking read; the settings page and the
``/users/settings`` schema of preferences."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import api_keys
from notifications.models import Notification
from tests.conftest import ROLE_NAMES, make_user

from .conftest import complete, notify_for

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def told(users, make_order):
    """Each role's user gets one order-completed notification about an order of their own."""
    notes = {}
    for role in ROLE_NAMES:
        creator = users[role] if role != "Viewer" else make_user("Manager")
        # A Viewer creates nothing: they are the assignee of a Manager's order.
        order = make_order(creator, assigned_to=users[role] if role == "Viewer" else None)
        entry = complete(order)
        notify_for(entry)
        notes[role] = Notification.objects.filter(
            user=users[role], source_key=f"order-event:{entry.pk}"
        ).first()
    return notes


def api_as(user) -> APIClient:
    _, raw = api_keys.create_key(user, "test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def test_the_list_page_shows_only_ones_own(client, users, told):
    client.force_login(users["User"])
    page = client.get("/notifications/")
    assert page.status_code == 200
    body = page.content.decode()
    assert told["User"].title in body
    assert told["Manager"].title not in body
    assert 'data-testid="bell-count"' in body  # the bell in the header
    assert ">1<" in body.split('data-testid="bell-count"')[1][:40]


@pytest.mark.parametrize("role", ["Admin", "Manager", "User"])
def test_another_users_notification_is_404_on_page_and_api(client, users, told, role):
    foreign = told["User"] if role != "User" else told["Admin"]
    client.force_login(users[role])
    assert client.get(f"/notifications/{foreign.pk}/open").status_code == 404
    assert client.post(f"/notifications/{foreign.pk}/read").status_code == 404
    api = api_as(users[role])
    assert api.get(f"{API}/notifications/{foreign.pk}").status_code == 404
    assert api.post(f"{API}/notifications/{foreign.pk}/read").status_code == 404
    foreign.refresh_from_db()
    assert foreign.read_at is None


def test_opening_marks_read_and_leads_to_the_order(client, users, told):
    note = told["User"]
    client.force_login(users["User"])
    response = client.get(f"/notifications/{note.pk}/open")
    assert response.status_code == 302
    assert response["Location"] == note.url
    note.refresh_from_db()
    assert note.read_at is not None


def test_mark_one_and_all_read_on_the_page(client, users, make_order, told):
    owner = users["User"]
    notify_for(complete(make_order(owner)))
    client.force_login(owner)
    first, _second = Notification.objects.filter(user=owner).order_by("id")
    response = client.post(f"/notifications/{first.pk}/read", {"next": "/notifications/?page=1"})
    assert response["Location"] == "/notifications/?page=1"
    assert Notification.objects.filter(user=owner, read_at__isnull=True).count() == 1
    response = client.post("/notifications/read-all", {"next": "https://evil.example/"})
    assert response["Location"] == "/notifications/"  # no redirect off the site
    assert not Notification.objects.filter(user=owner, read_at__isnull=True).exists()


def test_pages_need_a_sign_in(client, told):
    assert client.get("/notifications/").status_code == 302
    assert client.get("/notifications/settings/").status_code == 302
    assert APIClient().get(f"{API}/notifications").status_code == 401


def test_api_lists_summary_and_marks_read(users, told, make_order):
    owner = users["User"]
    notify_for(complete(make_order(owner)))
    api = api_as(owner)
    listed = api.get(f"{API}/notifications").json()
    assert [n["id"] for n in listed["results"]] == list(
        Notification.objects.filter(user=owner).order_by("-id").values_list("pk", flat=True)
    )
    summary = api.get(f"{API}/notifications/summary").json()
    assert summary["type"] == "notifications"
    assert summary["unread"] == 2
    assert summary["latest"][0]["open_url"].endswith("/open")

    newest = listed["results"][0]["id"]
    answer = api.post(f"{API}/notifications/{newest}/read").json()
    assert answer["read"] is True
    unread = api.get(f"{API}/notifications", {"unread": "true"}).json()["results"]
    assert len(unread) == 1
    assert api.post(f"{API}/notifications/read-all").json() == {"marked": 1}
    assert api.get(f"{API}/notifications/summary").json()["unread"] == 0


def test_a_user_without_a_role_has_an_empty_centre(users):
    api = api_as(users["norole"])
    assert api.get(f"{API}/notifications").json()["results"] == []
    assert api.get(f"{API}/notifications/summary").json()["unread"] == 0


# --- preferences ---------------------------------------------------------------------------


def test_settings_api_validates_and_completes_the_table(users):
    api = api_as(users["User"])
    shown = api.get(f"{API}/users/settings").json()["settings"]["notifications"]
    assert shown["order_completed"] == {"in_app": True, "browser": True, "email": False}

    sent = {"page_size": 50, "notifications": {"order_completed": {"email": True}}}
    answer = api.put(f"{API}/users/settings", sent, format="json")
    assert answer.status_code == 200
    table = answer.json()["settings"]["notifications"]
    assert table["order_completed"] == {"in_app": True, "browser": True, "email": True}
    assert answer.json()["settings"]["page_size"] == 50
    users["User"].refresh_from_db()
    assert users["User"].settings["notifications"]["order_completed"]["email"] is True


@pytest.mark.parametrize(
    ("sent", "where"),
    [
        ({"notifications": {"order_lost": {"email": True}}}, "order_lost"),
        ({"notifications": {"order_completed": {"sms": True}}}, "sms"),
        ({"notifications": {"order_completed": {"email": "yes"}}}, "email"),
        ({"notifications": {"order_completed": True}}, "order_completed"),
        ({"notifications": []}, "notifications"),
    ],
)
def test_settings_api_refuses_bad_preferences_with_a_sentence(users, sent, where):
    users["User"].settings = {"keep": 1}
    users["User"].save()
    answer = api_as(users["User"]).put(f"{API}/users/settings", sent, format="json")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert where in str(error["details"])
    users["User"].refresh_from_db()
    assert users["User"].settings == {"keep": 1}  # nothing stored


def test_settings_page_shows_the_kinds_of_the_role_and_saves(client, users):
    client.force_login(users["User"])
    page = client.get("/notifications/settings/").content.decode()
    assert "Order completed" in page
    assert "AI provider or PMR down" not in page
    assert "failed sign-ins" not in page
    response = client.post(
        "/notifications/settings/",
        {"order_completed__in_app": "on", "order_needs_review__email": "on"},
    )
    assert response.status_code == 302
    users["User"].refresh_from_db()
    table = users["User"].settings["notifications"]
    assert table["order_completed"] == {"in_app": True, "browser": False, "email": False}
    assert table["order_needs_review"] == {"in_app": False, "browser": False, "email": True}
    assert table["service_down"]["email"] is True  # not on the page: kept as it was

    client.force_login(users["Admin"])
    page = client.get("/notifications/settings/").content.decode()
    assert "AI provider or PMR down" in page
    assert "Repeated failed sign-ins" in page
    client.force_login(users["Manager"])
    page = client.get("/notifications/settings/").content.decode()
    assert "AI provider or PMR down" in page
    assert "Repeated failed sign-ins" not in page


def test_settings_page_says_when_push_is_off(client, users, settings):
    client.force_login(users["User"])
    assert 'data-testid="push-toggle"' in client.get("/notifications/settings/").content.decode()
    settings.VAPID_PRIVATE_KEY = ""
    page = client.get("/notifications/settings/").content.decode()
    assert 'data-testid="push-off"' in page
    assert 'data-testid="push-toggle"' not in page


def test_push_subscription_api(users, settings):
    settings.WEBPUSH_ALLOWED_HOSTS = ["fcm.googleapis.com"]
    api = api_as(users["User"])
    body = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
    }
    assert api.post(f"{API}/notifications/subscriptions", body, format="json").status_code == 400
    from notifications.push_simulator import PushServiceCore

    real = PushServiceCore().subscribe(settings.VAPID_PUBLIC_KEY)
    body["keys"] = real["keys"]
    created = api.post(f"{API}/notifications/subscriptions", body, format="json")
    assert created.status_code == 201
    assert users["User"].push_subscriptions.count() == 1
    # Not a push service: refused (the server would post to an address of the user's choosing).
    elsewhere = {**body, "endpoint": "http://10.0.0.5/steal"}
    refused = api.post(f"{API}/notifications/subscriptions", elsewhere, format="json")
    assert refused.status_code == 400
    assert "push service" in refused.json()["error"]["details"]["endpoint"][0]
    gone = api.post(
        f"{API}/notifications/subscriptions/unsubscribe",
        {"endpoint": body["endpoint"]},
        format="json",
    )
    assert gone.status_code == 204
    assert users["User"].push_subscriptions.count() == 0


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_each_role_lists_exactly_its_own(users, told, role):
    api = api_as(users[role])
    listed = [n["id"] for n in api.get(f"{API}/notifications").json()["results"]]
    assert listed == [told[role].pk]
    summary = api.get(f"{API}/notifications/summary").json()
    assert [n["id"] for n in summary["latest"]] == [told[role].pk]
