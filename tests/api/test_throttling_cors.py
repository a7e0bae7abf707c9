"""Rate limit per user (Redis cache) and CORS only for the configured origins."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from rkh_site.api_throttling import UserRateThrottle, parse_rate

from .conftest import API, assert_error, key_client


@pytest.fixture
def fresh_counters(fresh_cache):
    """Counters under a prefix of their own: no count from an earlier run can leak in."""


def test_rate_is_counted_per_user_and_answers_429_with_retry_after(users, settings, fresh_counters):
    settings.API_THROTTLE_RATE = "3/minute"
    client, _ = key_client(users["Viewer"])
    assert [client.get(f"{API}/users/profile").status_code for _ in range(3)] == [200] * 3

    response = client.get(f"{API}/users/profile")
    error = assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "throttled" in error["message"].lower() or "request" in error["message"].lower()

    # All keys and the session of one user share the allowance…
    second_key, _ = key_client(users["Viewer"])
    assert second_key.get(f"{API}/users/profile").status_code == 429
    session = APIClient()
    session.force_login(users["Viewer"])
    assert session.get(f"{API}/users/profile").status_code == 429
    # …and another user has their own.
    assert key_client(users["User"])[0].get(f"{API}/users/profile").status_code == 200


def test_anonymous_requests_are_counted_per_address(settings, fresh_counters):
    settings.API_THROTTLE_RATE = "2/minute"
    here, there = APIClient(REMOTE_ADDR="10.0.0.1"), APIClient(REMOTE_ADDR="10.0.0.2")
    url = f"{API}/auth/logout"  # open to anonymous requests
    assert [here.post(url).status_code for _ in range(2)] == [204, 204]
    assert_error(here.post(url), 429, "throttled")
    # A forged X-Forwarded-For does not make a new client.
    assert here.post(url, HTTP_X_FORWARDED_FOR="1.2.3.4").status_code == 429
    assert there.post(url).status_code == 204


def test_default_rate_is_100_a_minute(users, settings, fresh_counters):
    import rkh_site.settings as production  # tests/settings.py raises it for the whole run

    assert production.API_THROTTLE_RATE == "100/minute"
    settings.API_THROTTLE_RATE = production.API_THROTTLE_RATE
    client, _ = key_client(users["Viewer"])
    statuses = [client.get(f"{API}/ai/models").status_code for _ in range(101)]
    assert statuses[:100] == [200] * 100
    assert statuses[100] == 429


def test_empty_rate_switches_the_limit_off(users, settings, fresh_counters):
    settings.API_THROTTLE_RATE = ""
    client, _ = key_client(users["Viewer"])
    assert all(client.get(f"{API}/users/profile").status_code == 200 for _ in range(5))


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("100/minute", (100, 60)), ("5/s", (5, 1)), ("10/hour", (10, 3600)), ("0/m", None)],
)
def test_parse_rate(rate, parsed):
    assert parse_rate(rate) == parsed


def test_sliding_window_weights_the_previous_window():
    """60 requests in the last window, 30% into this one: 42 still count; 58 more are allowed."""
    throttle = UserRateThrottle()
    wait = throttle._wait(limit=100, period=60, into_window=0.3, previous=60, current=80)
    # 60 * (1 - x) + 80 <= 100  =>  x >= 2/3: about 22 s from now.
    assert 21 <= wait <= 23


# --- CORS -----------------------------------------------------------------------------------


ALLOWED = "https://studio.example.com"


@override_settings(CORS_ALLOWED_ORIGINS=[ALLOWED])
def test_cors_headers_only_for_allowed_origins(users):
    client, _ = key_client(users["Viewer"])
    allowed = client.get(f"{API}/users/profile", HTTP_ORIGIN=ALLOWED)
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == ALLOWED

    other = client.get(f"{API}/users/profile", HTTP_ORIGIN="https://evil.example")
    assert other.status_code == 200  # CORS is the browser's rule; the server just omits it
    assert not other.has_header("Access-Control-Allow-Origin")


@override_settings(CORS_ALLOWED_ORIGINS=[ALLOWED])
def test_cors_preflight_allows_the_api_headers():
    response = APIClient().options(
        f"{API}/orders",
        HTTP_ORIGIN=ALLOWED,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, idempotency-key, content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    allowed_headers = response["Access-Control-Allow-Headers"].lower()
    for header in ("authorization", "idempotency-key", "content-type"):
        assert header in allowed_headers

    refused = APIClient().options(
        f"{API}/orders",
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert not refused.has_header("Access-Control-Allow-Origin")


def test_no_origin_is_allowed_by_default(users, settings):
    assert settings.CORS_ALLOWED_ORIGINS == []
    client, _ = key_client(users["Viewer"])
    response = client.get(f"{API}/users/profile", HTTP_ORIGIN=ALLOWED)
    assert not response.has_header("Access-Control-Allow-Origin")


@override_settings(CORS_ALLOWED_ORIGINS=[ALLOWED])
def test_cors_applies_to_the_api_only(client):
    response = client.get("/healthz", HTTP_ORIGIN=ALLOWED)
    assert not response.has_header("Access-Control-Allow-Origin")
