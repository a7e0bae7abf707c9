"""Sign-ins, failed sign-ins, sign-outs, downloads of originals and ZIP exports are in the audit
log, with who, from which address, and what happened."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db


def _events(model, **filters) -> list[tuple[str, str | None, str]]:
    rows = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        action=LogEntry.Action.ACCESS,
        **filters,
    ).order_by("pk")
    return [(row.additional_data["event"], row.remote_addr, row.object_pk) for row in rows]


def test_page_sign_in_out_and_failures_are_audited(client, users):
    user = users["User"]
    address = "192.0.2.44"
    client.post("/accounts/login/", {"login": user.email, "password": "no"}, REMOTE_ADDR=address)
    client.post("/accounts/login/", {"login": "ghost", "password": "no"}, REMOTE_ADDR=address)
    client.post("/accounts/login/", {"login": user.username, "password": "pw"}, REMOTE_ADDR=address)
    client.post("/accounts/logout/", REMOTE_ADDR=address)
    assert _events(User) == [
        ("sign_in_failed", address, str(user.pk)),
        ("sign_in_failed", address, ""),
        ("signed_in", address, str(user.pk)),
        ("signed_out", address, str(user.pk)),
    ]
    entries = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).order_by("pk")
    assert entries[1].object_repr == "unknown: ghost"
    assert entries[2].actor == user
    assert entries[2].additional_data["method"] == "password"
    assert entries[0].actor is None  # a failed attempt proves nobody's identity
    assert all("no" not in str(entry.additional_data.values()) for entry in entries)


def test_api_sign_in_is_audited_with_its_method(users):
    api = APIClient()
    response = api.post(
        "/api/v1/auth/login", {"login": users["Viewer"].username, "password": "pw"}, format="json"
    )
    assert response.status_code == 200, response.content
    entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS)
    assert entry.additional_data == {"event": "signed_in", "method": "api"}
    assert entry.actor == users["Viewer"]
