"""Fixtures of the REST API tests: signed-in clients per role, orders, real photos."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rest_framework.test import APIClient

PHOTOS = Path(__file__).resolve().parents[2] / "data" / "photos"
API = "/api/v1"


@pytest.fixture(autouse=True)
def _media(media_root):
    """Every API test stores files under a temporary MEDIA_ROOT."""
    return media_root


@pytest.fixture
def client_as(users):
    """``client_as("Manager")``: an API client signed in (session) as that role's user;
    ``"anonymous"`` gives one signed in as nobody."""

    def _as(who: str) -> APIClient:
        client = APIClient()
        if who != "anonymous":
            client.force_login(users[who])
        return client

    return _as


@pytest.fixture
def orders(users, make_order):
    """Orders seen from the ``User`` role: its own, one assigned to it, someone else's."""
    return {
        "own": make_order(users["User"]),
        "assigned": make_order(users["Manager"], assigned_to=users["User"]),
        "foreign": make_order(users["other"]),
    }


def photo(name: str = "rocket.jpg", upload_name: str | None = None) -> io.BytesIO:
    """A real photograph as an upload (a fresh handle each call)."""
    handle = io.BytesIO((PHOTOS / name).read_bytes())
    handle.name = upload_name or name
    return handle


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one error shape: {"error": {"code", "message", "details"}}; returns the inner dict."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str), error
    assert error["code"], error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    assert isinstance(error["details"], dict), error
    if code is not None:
        assert error["code"] == code, error
    return error
