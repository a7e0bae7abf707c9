"""The installable app's public pieces: manifest, favicon, offline page, and what the service
worker is told to keep on the device (only public URLs, never customer data)."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib import messages
from django.contrib.messages.storage import default_storage
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.staticfiles import finders
from django.test import Client
from PIL import Image

from accounts.roles import ADMIN, MANAGER, USER, VIEWER
from rkh_site import pwa

ROLES = (ADMIN, MANAGER, USER, VIEWER)


def sw_config(client: Client) -> dict:
    """The ``self.RKH_SW = {...};`` object the worker template is rendered with."""
    body = client.get("/sw.js").content.decode()
    match = re.search(r"self\.RKH_SW = (\{.*?\});\n", body, re.S)
    assert match, body
    return json.loads(match.group(1))


@pytest.mark.django_db
def test_manifest_makes_the_site_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["name"] == "RKH Photo Orders"
    assert manifest["short_name"]
    assert len(manifest["short_name"]) <= 12  # fits under a home-screen icon
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == (
        "/",
        "/",
        "standalone",
    )
    css = finders.find("css/app.css")
    with open(css) as handle:
        styles = handle.read()
    # The colours are the site's own: the top bar and the page background.
    assert ".topbar {" in styles
    assert f"background: {manifest['theme_color']}" in styles
    assert f"--bg: {manifest['background_color']}" in styles

    by_purpose: dict[str, set[str]] = {}
    for icon in manifest["icons"]:
        by_purpose.setdefault(icon.get("purpose", "any"), set()).add(icon["sizes"])
        assert icon["src"].startswith("/static/icons/")
        found = finders.find(icon["src"].removeprefix("/static/"))
        assert found, icon
        if icon["type"] == "image/png":
            with Image.open(found) as picture:
                assert f"{picture.width}x{picture.height}" == icon["sizes"]
                assert picture.format == "PNG"
    assert {"192x192", "512x512"} <= by_purpose["any"]
    assert "512x512" in by_purpose["maskable"]


@pytest.mark.django_db
def test_favicon_is_answered_not_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert "max-age=86400" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert client.post("/favicon.ico").status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_page_links_the_icons_manifest_and_worker(client, users, role):
    if role:
        client.force_login(users[role])
    page = client.get("/accounts/login/" if role is None else "/").content.decode()
    assert 'rel="manifest" href="/manifest.webmanifest"' in page
    assert 'rel="icon" href="/favicon.ico"' in page
    assert re.search(r'rel="icon" href="/static/icons/rkh-mark\.svg" type="image/svg\+xml"', page)
    assert re.search(r'rel="apple-touch-icon" href="/static/icons/apple-touch-icon\.png"', page)
    assert re.search(
        r'<script type="module" src="/static/js/sw-register\.js" data-sw-url="/sw\.js">', page
    )


@pytest.mark.django_db
def test_offline_page_is_public_and_personal_data_free(client, users, make_order):
    anonymous = client.get("/offline/")
    assert anonymous.status_code == 200
    assert "public" in anonymous["Cache-Control"]
    text = anonymous.content.decode()
    assert "No connection" in text
    assert "continue by themselves" in text  # queued uploads go on when it comes back
    assert "/static/css/app.css" in text
    # The page asks with HEAD whether the site answers again.
    head = client.head("/offline/")
    assert (head.status_code, head.content) == (200, b"")
    assert client.post("/offline/").status_code == 405

    # Signed in, with an order: the page is the same, names nobody, links nothing private.
    user = users[USER]
    order = make_order(user)
    client.force_login(user)
    signed_in = client.get("/offline/")
    assert signed_in.status_code == 200
    body = signed_in.content.decode()
    assert body == text
    assert user.username not in body
    assert order.order_ref not in body
    assert "Sign out" not in body
    assert "csrfmiddlewaretoken" not in body


@pytest.mark.django_db
def test_offline_page_leaves_flash_messages_for_the_next_page(rf, users):
    """The worker may fetch the page at any moment: it must not use up a pending message."""
    request = rf.get("/offline/")
    request.user = users[USER]
    request.session = SessionStore()
    request._messages = default_storage(request)
    messages.success(request, "Order ORD-2026-000001 created.")
    response = pwa.offline(request)
    assert b"ORD-2026-000001" not in response.content
    assert request._messages.used is False
    assert [m.message for m in request._messages] == ["Order ORD-2026-000001 created."]


@pytest.mark.django_db
def test_worker_precaches_only_public_urls(client, users, make_order):
    config = sw_config(client)
    precache = config["precache"]
    assert precache[0] == config["offlineUrl"] == "/offline/"
    assert set(precache[1:]) == {
        "/static/css/app.css",
        "/static/js/sw-register.js",
        "/static/js/offline-page.js",
        "/static/icons/rkh-mark.svg",
        "/static/icons/icon-192.png",
    }
    assert re.fullmatch(r"[0-9a-f]{16}", config["version"])
    assert config["cacheFirst"] is False  # development storage: unhashed URLs

    # Every precached URL answers to a visitor with no session at all, the same for everyone.
    user = users[USER]
    order = make_order(user)
    signed_in = Client()
    signed_in.force_login(user)
    for url in precache:
        if url.startswith("/static/"):  # collected files (the test client serves none)
            assert finders.find(url.removeprefix("/static/")), url
            continue
        anonymous = Client().get(url)
        assert anonymous.status_code == 200, url
        assert "sessionid" not in anonymous.cookies
        assert signed_in.get(url).content == anonymous.content
        assert order.order_ref.encode() not in anonymous.content
    # Nothing private is named anywhere in the worker (orders, API, media, uploads).
    body = client.get("/sw.js").content.decode()
    for private in ("/orders/", "/api/", "/media/", "/uploads/", "/review/", "/admin/"):
        assert private not in body


@pytest.mark.django_db
def test_worker_version_follows_what_it_precaches(client, settings, tmp_path):
    first = sw_config(client)["version"]
    assert sw_config(client)["version"] == first  # stable: no reinstall on every visit
    # A changed offline page (here: a new template) makes a new version, so a new cache.
    custom = tmp_path / "templates" / "pwa"
    custom.mkdir(parents=True)
    (custom / "offline.html").write_text(
        '{% extends "base.html" %}{% block content %}Gone{% endblock %}'
    )
    templates = [dict(settings.TEMPLATES[0])]
    templates[0]["DIRS"] = [tmp_path / "templates", *templates[0]["DIRS"]]
    settings.TEMPLATES = templates
    assert sw_config(client)["version"] != first


@pytest.mark.django_db
def test_hashed_static_urls_are_served_cache_first(client, settings, tmp_path):
    """In production the precached URLs carry content hashes, so the worker may trust its cache."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", verbosity=0)
    config = sw_config(client)
    assert config["cacheFirst"] is True
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", config["precache"][1])
    assert client.get("/favicon.ico").status_code == 200
