"""The service worker is served from the root (its scope is the whole site), to anyone."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_service_worker_served_from_root_with_its_parts(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    parts = re.findall(r'"(/static/js/sw/[a-z]+\.js)"', body)
    assert parts == ["/static/js/sw/offline.js", "/static/js/sw/push.js"]
    for part in parts:
        assert finders.find(part.removeprefix("/static/")), part


@pytest.mark.django_db
def test_service_worker_refuses_writes(client):
    assert client.post("/sw.js").status_code == 405
