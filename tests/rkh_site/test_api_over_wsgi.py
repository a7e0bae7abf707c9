"""``/api/`` is served through Django's WSGI handler in a thread pool, the rest by ``asgi_app``
(rkh_site/api_over_wsgi.py): the routing, and that the API answers as it does elsewhere."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from accounts import api_keys
from rkh_site.api_over_wsgi import http_application


def _get(app, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.get(path, headers=headers or {})

    # A thread of its own: another test's event loop may still be set on this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, send()).result()


class _Pages:
    """Stands for Django's ASGI handler: records what reached it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.mark.django_db(transaction=True)
def test_the_api_goes_to_wsgi_threads_and_pages_to_asgi(settings, users):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.API_WSGI_THREADS = 2
    pages = _Pages()
    app = http_application(pages)
    _, raw = api_keys.create_key(users["Viewer"], "wsgi")

    assert _get(app, "/orders/").status_code == 204
    response = _get(app, "/api/v1/users/profile", {"Authorization": f"Api-Key {raw}"})
    assert response.status_code == 200, response.text
    assert response.json()["username"] == users["Viewer"].username
    # The API's own error shape and challenge, from Django, not from the stand-in.
    refused = _get(app, "/api/v1/orders", {"Authorization": "Api-Key nope"})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Api-Key")
    assert pages.paths == ["/orders/"]


def test_zero_threads_leaves_everything_to_asgi(settings):
    settings.API_WSGI_THREADS = 0
    pages = _Pages()
    assert http_application(pages) is pages
