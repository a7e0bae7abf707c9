"""What the new endpoints do: events, history, one image, filters and ordering, sign-in, profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import preferences
from accounts.models import User
from events.models import Event
from orders import services as order_services
from orders.models import Order

from .conftest import API, assert_error, key_client, make_image

# --- events -----------------------------------------------------------------------------------


@pytest.fixture
def manager(users):
    return key_client(users["Manager"])[0]


def test_create_and_read_an_event(manager):
    body = {
        "event_id": "WED-2026-0001",
        "name": "Wedding",
        "date": "2026-06-14",
        "event_type": "wedding",
        "customer_id": "C-1",
        "metadata": {"venue": "Hall"},
    }
    created = manager.post(f"{API}/events", body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["url"].endswith(f"{API}/events/WED-2026-0001")
    assert data["pmr_validated"] is False
    assert manager.get(f"{API}/events/WED-2026-0001").json() == data


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_id": "bad id"}, "event_id"),
        ({"event_id": "x" * 51}, "event_id"),
        ({"event_id": "OK-1", "event_type": "party"}, "event_type"),
        ({"event_id": "OK-1", "date": "2026-13-01"}, "date"),
        ({"event_id": "OK-1", "metadata": [1]}, "metadata"),
        ({"event_id": "OK-1", "name": "a\x00b"}, "name"),
        ({}, "event_id"),
    ],
)
def test_invalid_events_are_400(manager, body, field):
    error = assert_error(manager.post(f"{API}/events", body, format="json"), 400, "invalid")
    assert field in error["details"]


def test_duplicate_event_id_is_400(manager, event):
    response = manager.post(f"{API}/events", {"event_id": event.event_id}, format="json")
    assert "event_id" in assert_error(response, 400, "invalid")["details"]


def test_put_edits_but_never_changes_the_event_id(manager, event):
    url = f"{API}/events/{event.event_id}"
    same = manager.put(url, {"event_id": event.event_id, "name": "Renamed"}, format="json")
    assert same.status_code == 200
    assert same.json()["name"] == "Renamed"
    moved = manager.put(url, {"event_id": "OTHER-1", "name": "x"}, format="json")
    assert "event_id" in assert_error(moved, 400, "invalid")["details"]
    event.refresh_from_db()
    assert (event.event_id, event.name) == (event.event_id, "Renamed")


def test_event_edits_are_audited_with_the_keys_user(manager, users, event):
    from auditlog.models import LogEntry

    manager.patch(f"{API}/events/{event.event_id}", {"name": "Audited"}, format="json")
    entry = LogEntry.objects.get_for_object(event).latest("timestamp")
    assert entry.actor == users["Manager"]
    assert "name" in entry.changes_dict


def test_event_list_filters_and_ordering(manager):
    for i, (kind, date) in enumerate(
        [("wedding", "2026-01-10"), ("school", "2026-02-10"), ("wedding", "2026-03-10")]
    ):
        Event.objects.create(event_id=f"E-{i}", name=f"Event {i}", event_type=kind, date=date)

    def ids(query: str) -> list[str]:
        response = manager.get(f"{API}/events?{query}")
        assert response.status_code == 200, response.content
        return [row["event_id"] for row in response.json()["results"]]

    assert ids("") == ["E-2", "E-1", "E-0"]  # newest first
    assert ids("ordering=event_id") == ["E-0", "E-1", "E-2"]
    assert ids("event_type=wedding") == ["E-2", "E-0"]
    assert ids("event_type=school,wedding&date_after=2026-02-01") == ["E-2", "E-1"]
    assert ids("search=event 1") == ["E-1"]
    assert "ordering" in assert_error(manager.get(f"{API}/events?ordering=name"), 400)["details"]
    assert "event_type" in assert_error(manager.get(f"{API}/events?event_type=x"), 400)["details"]


# --- orders: filters, ordering, history, one image -----------------------------------------


def test_order_filters_and_ordering(users, make_order):
    other = Event.objects.create(event_id="EVT-OTHER")
    early = make_order(users["Manager"], order_date=datetime(2025, 1, 1, tzinfo=UTC))
    late = make_order(users["Manager"], order_date=datetime(2025, 6, 1, tzinfo=UTC))
    assigned = order_services.create_order(
        actor=users["Manager"], event=other, customer_name="X", assigned_to=users["User"]
    )
    client = key_client(users["Admin"])[0]

    def refs(query: str) -> list[str]:
        response = client.get(f"{API}/orders?{query}")
        assert response.status_code == 200, response.content
        return [row["order_ref"] for row in response.json()["results"]]

    assert refs("ordering=order_date")[:2] == [early.order_ref, late.order_ref]
    assert refs("ordering=-order_date")[-2:] == [late.order_ref, early.order_ref]
    assert refs(f"assigned_to={users['User'].pk}") == [assigned.order_ref]
    assert refs("event=EVT-OTHER") == [assigned.order_ref]
    assert refs("order_date_before=2025-03-01T00:00:00Z") == [early.order_ref]
    # An offset PostgreSQL would refuse is converted, not a server error.
    assert refs("order_date_before=2025-03-01T07:54:53-16:57") == [early.order_ref]
    assert set(refs("created_after=2000-01-01T00:00:00%2B14:00")) == {
        early.order_ref,
        late.order_ref,
        assigned.order_ref,
    }


@pytest.mark.parametrize(
    "query",
    [
        "ordering=customer_name",
        "assigned_to=0",
        "assigned_to=99999999999999999999",
        "created_after=yesterday",
        "order_date_after=9999-12-31T23:59:59-12:00",
        "order_date_before=0001-01-01T00:00:00%2B14:00",
    ],
)
def test_bad_order_filters_are_400(users, query):
    response = key_client(users["Admin"])[0].get(f"{API}/orders?{query}")
    assert_error(response, 400, "invalid")


def test_history_lists_the_orders_audit_entries_newest_first(users, event):
    user, manager = key_client(users["User"])[0], key_client(users["Manager"])[0]
    ref = user.post(f"{API}/orders", {"event": event.event_id, "customer_name": "H"}).json()[
        "order_ref"
    ]
    user.patch(f"{API}/orders/{ref}", {"notes": "Two prints"}, format="json")
    manager.patch(f"{API}/orders/{ref}", {"status": "cancelled"}, format="json")

    rows = key_client(users["Viewer"])[0].get(f"{API}/orders/{ref}/history").json()["results"]
    assert [r["action"] for r in rows] == ["update", "update", "create"]
    assert rows[0]["changes"]["status"] == ["draft", "cancelled"]
    assert rows[0]["actor"]["username"] == users["Manager"].username
    assert rows[1]["changes"]["notes"] == ["", "(encrypted)"]  # encrypted at rest: not shown
    assert rows[2]["actor"]["username"] == users["User"].username
    assert "remote_addr" not in rows[0]


def test_history_pages(users, make_order):
    order = make_order(users["User"])
    for i in range(4):
        order_services.update_order(order, actor=users["User"], notes=f"n{i}")
    client = key_client(users["Admin"])[0]
    seen, url = [], f"{API}/orders/{order.order_ref}/history?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 5


def test_one_image_of_an_order(users, make_order):
    order, other = make_order(users["User"]), make_order(users["User"])
    image = make_image(order)
    client = key_client(users["User"])[0]
    body = client.get(f"{API}/orders/{order.order_ref}/images/{image.pk}").json()
    assert body["id"] == image.pk
    assert body["order"] == order.order_ref
    assert_error(client.get(f"{API}/orders/{other.order_ref}/images/{image.pk}"), 404)
    assert_error(client.get(f"{API}/orders/{order.order_ref}/images/{10**17}"), 404)


def test_image_list_filters_by_status(users, make_order):
    order = make_order(users["User"])
    make_image(order, "uploaded")
    rejected = make_image(order, "rejected")
    client = key_client(users["User"])[0]
    body = client.get(f"{API}/orders/{order.order_ref}/images?status=rejected").json()
    assert [row["id"] for row in body["results"]] == [rejected.pk]


def test_lists_run_the_same_queries_whatever_the_page_size(users, make_order):
    """No query per row: 3 and 30 rows cost the same."""
    for _ in range(30):
        make_order(users["Manager"])
    order = Order.objects.first()
    for _ in range(30):
        make_image(order)
    client = key_client(users["Admin"])[0]
    client.get(f"{API}/orders")  # warm: the key's last use is written once

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured.captured_queries)

    for path in (
        f"{API}/orders?page_size={{n}}",
        f"{API}/orders/{order.order_ref}/images?page_size={{n}}",
        f"{API}/events/{order.event.event_id}/orders?page_size={{n}}",
    ):
        assert count(path.format(n=3)) == count(path.format(n=30)), path


# --- sign-in, profile, settings -------------------------------------------------------------------


@pytest.fixture
def alice(db, fresh_cache):
    from accounts import services

    user = User.objects.create_user("alice", "alice@example.com", "s3cret-pass")
    services.set_role(user, "User")
    return user


def test_login_by_username_or_email_then_logout(alice):
    for login in ("alice", "ALICE@example.com"):
        client = APIClient(enforce_csrf_checks=True)
        response = client.post(
            f"{API}/auth/login", {"login": login, "password": "s3cret-pass"}, format="json"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["user"]["username"] == "alice"
        assert body["user"]["role"] == "User"
        assert body["user"]["authenticated_by"] == "session"
        assert client.get(f"{API}/users/profile").status_code == 200

        # Logout with the session needs the CSRF token from the answer.
        assert client.post(f"{API}/auth/logout").status_code == 403
        out = client.post(f"{API}/auth/logout", HTTP_X_CSRFTOKEN=body["csrf_token"])
        assert out.status_code == 204
        assert_error(client.get(f"{API}/users/profile"), 401, "not_authenticated")


@pytest.mark.parametrize(
    "body",
    [
        {"login": "alice", "password": "wrong"},
        {"login": "nobody", "password": "s3cret-pass"},
        {"login": "alice@example.com", "password": ""},
    ],
)
def test_login_failures_are_400(alice, body):
    response = APIClient().post(f"{API}/auth/login", body, format="json")
    assert_error(response, 400)


def test_login_of_an_inactive_user_fails(alice):
    alice.is_active = False
    alice.save()
    response = APIClient().post(
        f"{API}/auth/login", {"login": "alice", "password": "s3cret-pass"}, format="json"
    )
    assert_error(response, 400, "invalid_credentials")


def test_login_takes_json_only(alice):
    response = APIClient().post(f"{API}/auth/login", {"login": "alice", "password": "s3cret-pass"})
    assert_error(response, 415, "unsupported_media_type")


def test_repeated_failed_logins_are_429(alice):
    client = APIClient()
    wrong = {"login": "alice", "password": "wrong"}
    statuses = [
        client.post(f"{API}/auth/login", wrong, format="json").status_code for _ in range(6)
    ]
    assert statuses[:5] == [400] * 5
    assert statuses[5] == 429


def test_settings_are_replaced_and_checked(users):
    client = key_client(users["Viewer"])[0]
    response = client.put(f"{API}/users/settings", {"page_size": 25}, format="json")
    # The answer shows the effective settings: the notification table with its defaults.
    assert response.json() == {
        "settings": {"page_size": 25, "notifications": preferences.notification_table({})}
    }
    users["Viewer"].refresh_from_db()
    assert users["Viewer"].settings == {"page_size": 25}
    assert client.get(f"{API}/users/profile").json()["settings"] == {"page_size": 25}

    for bad in ([1, 2], "x", {"a": "x" * 20_000}):
        error = assert_error(client.put(f"{API}/users/settings", bad, format="json"), 400)
        assert "settings" in error["details"]
    assert_error(client.put(f"{API}/users/settings"), 400, "invalid")


def test_unpaired_surrogates_are_400_not_500(users):
    client = key_client(users["Manager"])[0]
    raw = '{"event_id": "S-1", "name": "\\ud800"}'
    response = client.post(f"{API}/events", raw, content_type="application/json")
    assert_error(response, 400, "parse_error")
    response = client.put(
        f"{API}/users/settings", '{"a": "\\udfff"}', content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_dates_far_in_the_future_are_accepted(users, event):
    client = key_client(users["Manager"])[0]
    when = (datetime.now(UTC) + timedelta(days=365 * 50)).isoformat()
    response = client.post(
        f"{API}/orders",
        {"event": event.event_id, "customer_name": "Future", "order_date": when},
        format="json",
    )
    assert response.status_code == 201, response.content
