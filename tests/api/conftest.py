"""Fixtures of the API platform tests: clients per role by API key or session, orders, events."""

from __future__ import annotations

import hashlib
import io
import itertools
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from accounts import api_keys
from orders.models import Image, Order

API = "/api/v1"
WHO = ["Admin", "Manager", "User", "Viewer", "norole", "anonymous"]


@pytest.fixture(autouse=True)
def _media(media_root):
    """Every API test stores files under a temporary MEDIA_ROOT."""
    return media_root


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture
def fresh_cache(settings):
    """The Django cache under a prefix of its own: counters kept in Redis for the whole run
    (the API's rate limit, allauth's failed sign-ins per address) start from zero."""
    import uuid

    caches = {name: dict(config) for name, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


def key_client(user) -> tuple[APIClient, str]:
    """A client that sends a fresh API key of ``user`` with every request."""
    _, raw = api_keys.create_key(user, f"test key of {user.username}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client, raw


@pytest.fixture
def client_as(users):
    """``client_as("Manager")``: an API client sending an API key of that role's user;
    ``client_as("Manager", session=True)``: signed in by session instead;
    ``"anonymous"`` sends neither."""

    def _as(who: str, session: bool = False) -> APIClient:
        if who == "anonymous":
            return APIClient()
        if not session:
            return key_client(users[who])[0]
        client = APIClient()
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


_image_counter = itertools.count(1)
PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"


def make_image(order: Order, status: str = Image.Status.UPLOADED) -> Image:
    """An Image row with a tiny stored file, straight into ``status`` (setup only)."""
    content = f"image bytes {next(_image_counter)}".encode()
    return Image.objects.create(
        order=order,
        original=ContentFile(content, name="photo.jpg"),
        original_filename="photo.jpg",
        file_size=len(content),
        mime_type="image/jpeg",
        sha256=hashlib.sha256(content).hexdigest(),
        status=status,
    )


def make_photo_image(order: Order) -> Image:
    """An ingested-looking Image whose stored file is a real photograph (AI can read it)."""
    content = (PHOTOS / "rocket.jpg").read_bytes()
    return Image.objects.create(
        order=order,
        original=ContentFile(content, name="rocket.jpg"),
        original_filename="rocket.jpg",
        file_size=len(content),
        mime_type="image/jpeg",
        sha256=hashlib.sha256(content).hexdigest(),
        status=Image.Status.INGESTED,
    )


def photo(name: str = "rocket.jpg") -> io.BytesIO:
    """A real photograph as an upload (a fresh handle each call)."""
    handle = io.BytesIO((PHOTOS / name).read_bytes())
    handle.name = name
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


def check(response, status: int) -> None:
    """``status`` expected: an error in the shape, or that success status."""
    if status >= 400:
        assert_error(response, status)
    else:
        assert response.status_code == status, (response.status_code, response.content[:300])
