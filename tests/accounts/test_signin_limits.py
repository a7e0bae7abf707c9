"""Failed sign-ins count per account, whether the username or the e-mail was typed, and the
API's lock-out answer says when to come back (``Retry-After``)."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.signin_limits import attempt_key, retry_after_seconds

pytestmark = pytest.mark.django_db
URL = "/api/v1/auth/login"


@pytest.fixture
def fresh_limits(settings):
    """allauth's counters live in the cache (Redis): a prefix of this test's own."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"t-{uuid.uuid4().hex[:8]}"}
    }
    cache.clear()


def _fail(api: APIClient, login: str, address: str):
    return api.post(URL, {"login": login, "password": "wrong"}, format="json", REMOTE_ADDR=address)


def test_username_and_email_spend_one_allowance(fresh_limits, users):
    user = users["User"]
    api = APIClient()
    # Five failures (allauth's "5/5m/key"), from five addresses (under the per-address limit),
    # typed as the username three times and as the e-mail twice.
    typed = [user.username, user.email.upper(), user.username, user.email, user.username]
    for number, login in enumerate(typed, start=1):
        response = _fail(api, login, f"198.51.100.{number}")
        assert response.status_code == 400, (number, response.content)
    locked = _fail(api, user.email, "198.51.100.6")
    assert locked.status_code == 429, locked.content
    assert locked.json()["error"]["code"] == "throttled"
    assert locked["Retry-After"] == "300"
    # The right password does not get in either while the account is locked.
    right = api.post(
        URL, {"login": user.username, "password": "pw"}, format="json", REMOTE_ADDR="198.51.100.7"
    )
    assert right.status_code == 429


def test_the_key_is_the_account_or_the_typed_name(users):
    user = users["Manager"]
    assert attempt_key(user.username) == attempt_key(f"  {user.email.upper()} ")
    assert attempt_key(user.username) == f"account:{user.pk}"
    assert attempt_key("Nobody-Here") == "name:nobody-here"


def test_retry_after_is_the_longest_window_of_the_limit(settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/15m/key"}
    assert retry_after_seconds() == 900
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "5/5m/ip,5/5m/key"}
    assert retry_after_seconds() == 300
