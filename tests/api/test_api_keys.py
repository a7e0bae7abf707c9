"""API keys: made by command or admin, shown once, stored hashed, revocable, with last use."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import api_keys
from accounts.models import ApiKey
from orders.models import Order

from .conftest import API, assert_error, key_client

KEY_SHAPE = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")


def _command(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def _with_key(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def test_command_prints_the_key_once_and_stores_only_its_hash(users):
    raw, note = _command(users["Manager"].username, "--name", "PMR bridge")

    assert KEY_SHAPE.fullmatch(raw), raw
    assert raw not in note  # the explanation goes to stderr; stdout is the key alone
    assert "not shown again" in note
    key = ApiKey.objects.get(user=users["Manager"])
    assert key.name == "PMR bridge"
    assert key.prefix == raw.split(".")[0]
    assert key.hashed_key == "sha512$$" + hashlib.sha512(raw.encode()).hexdigest()
    # Nowhere in the row, in any column, is the key itself.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey")
        row = cursor.fetchone()
    assert all(raw not in str(value) for value in row)
    assert raw.split(".")[1] not in " ".join(str(value) for value in row)


def test_command_finds_the_user_by_email_and_sets_an_expiry(users):
    raw, _ = _command(users["User"].email.upper(), "--name", "n", "--expires-in-days", "3")
    key = ApiKey.objects.get(prefix=raw.split(".")[0])
    assert key.user == users["User"]
    assert timedelta(days=2, hours=23) < key.expiry_date - timezone.now() <= timedelta(days=3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "--name", "x"], "No user"),
        (["{user}", "--name", " "], "--name"),
        (["{user}", "--name", "x" * 51], "--name"),
        (["{user}", "--name", "x", "--expires-in-days", "0"], "positive"),
    ],
)
def test_command_refuses_bad_input(users, args, message):
    args = [a.replace("{user}", users["User"].username) for a in args]
    with pytest.raises(CommandError, match=message):
        _command(*args)
    assert not ApiKey.objects.exists()


def test_command_refuses_an_inactive_user(users):
    users["User"].is_active = False
    users["User"].save()
    with pytest.raises(CommandError, match="inactive"):
        _command(users["User"].username, "--name", "x")


def test_key_authenticates_and_acts_with_its_users_role(users, orders):
    client, _ = key_client(users["User"])
    profile = client.get(f"{API}/users/profile").json()
    assert profile["username"] == users["User"].username
    assert profile["role"] == "User"
    assert profile["authenticated_by"] == "api_key"
    refs = {row["order_ref"] for row in client.get(f"{API}/orders").json()["results"]}
    assert refs == {orders["own"].order_ref, orders["assigned"].order_ref}
    assert_error(client.get(f"{API}/orders/{orders['foreign'].order_ref}"), 404)


def test_key_of_a_viewer_cannot_write(users, event):
    client, _ = key_client(users["Viewer"])
    response = client.post(f"{API}/orders", {"event": event.event_id, "customer_name": "x"})
    assert_error(response, 403, "permission_denied")


def test_role_change_applies_to_the_key_at_once(users, orders):
    from accounts import services

    client, _ = key_client(users["User"])
    assert client.get(f"{API}/orders").status_code == 200
    services.set_role(users["User"], None)
    assert_error(client.get(f"{API}/orders"), 403, "permission_denied")


def test_unsafe_requests_with_a_key_need_no_csrf_token(users, event):
    _, raw = key_client(users["Manager"])
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    response = client.post(
        f"{API}/orders", {"event": event.event_id, "customer_name": "x"}, format="json"
    )
    assert response.status_code == 201, response.content


def test_revoked_key_is_401(users):
    _, raw = key_client(users["Admin"])
    api_keys.revoke(ApiKey.objects.get(prefix=raw[:8]))
    error = assert_error(_with_key(raw).get(f"{API}/orders"), 401, "authentication_failed")
    assert "revoked" in error["message"]


def test_revoking_cannot_be_undone(users):
    key, _ = api_keys.create_key(users["Admin"], "k")
    api_keys.revoke(key)
    key = ApiKey.objects.get(pk=key.pk)
    key.revoked = False
    with pytest.raises(Exception, match="revoked"):
        key.save()


def test_expired_key_is_401(users):
    _, raw = api_keys.create_key(
        users["Admin"], "k", expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert_error(_with_key(raw).get(f"{API}/orders"), 401, "authentication_failed")


def test_key_of_an_inactive_user_is_401(users):
    _, raw = key_client(users["Manager"])
    users["Manager"].is_active = False
    users["Manager"].save()
    assert_error(_with_key(raw).get(f"{API}/orders"), 401, "authentication_failed")


@pytest.mark.parametrize(
    "header",
    [
        "Api-Key ",
        "Api-Key nonsense",
        "Api-Key {prefix}.{wrong}",
        "Api-Key {raw}x",
        "Api-Key " + "A" * 5000,
        "Api-Key \x00",
        "api-key {other}",
    ],
)
def test_wrong_keys_are_401_not_anonymous(users, header):
    """A key that does not work is refused, even where anonymous access would be fine."""
    _, raw = key_client(users["Admin"])
    header = (
        header.replace("{prefix}", raw[:8])
        .replace("{wrong}", "B" * 32)
        .replace("{raw}", raw)
        .replace("{other}", "Zz" * 4 + "." + "q" * 32)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    for path in ("/orders", "/schema/"):
        assert_error(client.get(API + path), 401, "authentication_failed")


def test_lowercase_keyword_works(users):
    _, raw = key_client(users["Admin"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"api-key {raw}")
    assert client.get(f"{API}/orders").status_code == 200


def test_last_used_at_is_updated_at_most_once_a_minute(users):
    key, raw = api_keys.create_key(users["Admin"], "k")
    assert key.last_used_at is None
    client = _with_key(raw)

    assert client.get(f"{API}/users/profile").status_code == 200
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    assert timezone.now() - first < timedelta(seconds=10)

    client.get(f"{API}/users/profile")
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first  # within the minute: no write

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=2))
    api_keys.forget_checked_keys()  # an update() sends no signal: as if the cache had expired
    client.get(f"{API}/users/profile")
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


def test_user_for_key_is_the_plain_check_websockets_use(users):
    key, raw = api_keys.create_key(users["Viewer"], "ws")
    assert api_keys.user_for_key(raw) == users["Viewer"]
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None
    for bad in ("", "x", raw + "x", raw.upper(), None, 5):
        assert api_keys.user_for_key(bad) is None
    api_keys.revoke(key)
    assert api_keys.user_for_key(raw) is None


def test_changes_made_with_a_key_are_audited_with_its_user(users, event):
    client, _ = key_client(users["Manager"])
    response = client.post(f"{API}/orders", {"event": event.event_id, "customer_name": "Audit"})
    assert response.status_code == 201
    order = Order.objects.get(order_ref=response.json()["order_ref"])
    entry = LogEntry.objects.get_for_object(order).get(action=LogEntry.Action.CREATE)
    assert entry.actor == users["Manager"]


# --- admin ----------------------------------------------------------------------------------


def test_admin_creates_a_key_and_shows_it_once(client, users):
    client.force_login(users["Admin"])
    response = client.post(
        "/admin/accounts/apikey/add/",
        {
            "name": "Studio bridge",
            "user": users["User"].pk,
            "expiry_date_0": "",
            "expiry_date_1": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="Studio bridge")
    assert key.user == users["User"]
    shown = [str(m) for m in response.context["messages"]]
    raw = next(m for m in shown if key.prefix in m).split("is: ")[1].split(".")[:2]
    raw = ".".join(raw)
    assert api_keys.user_for_key(raw) == users["User"]
    # The change page never shows it again.
    page = client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()
    assert raw not in page


@pytest.mark.parametrize("who", ["Manager", "User", "Viewer"])
def test_only_admins_reach_the_key_admin(client, users, who):
    key, _ = api_keys.create_key(users["User"], "k")
    client.force_login(users[who])
    assert client.get("/admin/accounts/apikey/").status_code in (302, 403)
    assert client.get(f"/admin/accounts/apikey/{key.pk}/change/").status_code in (302, 403)


def test_admin_bulk_revoke(client, users):
    keys = [api_keys.create_key(users["User"], f"k{i}")[0] for i in range(2)]
    client.force_login(users["Admin"])
    response = client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke_keys", "_selected_action": [k.pk for k in keys]},
        follow=True,
    )
    assert response.status_code == 200
    assert ApiKey.objects.filter(revoked=True).count() == 2


def test_a_remembered_key_is_withdrawn_at_once(users, django_assert_max_num_queries):
    """The process remembers a checked key (no key, user or permission query on the next
    request), yet a revocation, a role change or a deactivation counts from the next one."""
    from accounts import services

    key, raw = api_keys.create_key(users["Manager"], "cached")
    client = _with_key(raw)
    assert client.get(f"{API}/users/profile").status_code == 200
    with django_assert_max_num_queries(1):  # the profile's own, if any
        assert client.get(f"{API}/orders?page_size=1").status_code == 200

    services.set_role(users["Manager"], None)
    assert client.get(f"{API}/orders?page_size=1").status_code == 403
    services.set_role(users["Manager"], "Manager")
    assert client.get(f"{API}/orders?page_size=1").status_code == 200

    users["Manager"].is_active = False
    users["Manager"].save()
    assert client.get(f"{API}/orders?page_size=1").status_code == 401
    users["Manager"].is_active = True
    users["Manager"].save()
    assert client.get(f"{API}/orders?page_size=1").status_code == 200

    api_keys.revoke(key)
    assert client.get(f"{API}/orders?page_size=1").status_code == 401
