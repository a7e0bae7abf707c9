"""The installable app: service worker, web app manifest, favicon and offline page.

The service worker is served from the site's root so that its scope is the
whole site: a service worker only controls pages under the folder it is served
from, so it cannot live under ``/static/``. The worker itself is a small
template that pulls in the parts that do the work (``static/js/sw/``): the
offline page and its caches (``offline.js``) and Web Push (``push.js``). It is
never cached by the browser's HTTP cache, so a new deployment reaches every tab.

What the worker keeps on the device is decided here, in ``PRECACHE``: the
offline page and the public static files it needs, nothing else. Order pages,
API answers and images are customer data and never enter a cache (docs/app.md).
Everything answered here is public: none of it depends on who asks.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

#: The name the installed app goes by; the short one fits under a home-screen icon.
APP_NAME = "RKH Photo Orders"
APP_SHORT_NAME = "RKH Orders"
#: The top bar's navy and the page background (static/css/app.css).
THEME_COLOUR = "#15213a"
BACKGROUND_COLOUR = "#f6f7f9"

#: Static files the offline page needs (it is shown with no connection at all).
#: Only public, non-personal files: the service worker keeps them on the device.
PRECACHE_STATIC = (
    "css/app.css",
    "js/sw-register.js",
    "js/offline-page.js",
    "icons/rkh-mark.svg",
    "icons/icon-192.png",
)

#: Bumped when the worker's caching changes in a way the precached URLs do not show.
CACHE_SCHEMA = "1"


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    """SHA-256 of a static file; keyed on its stat so an edited file is read again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _static_digest(name: str) -> str:
    """What identifies the bytes of static file ``name`` (empty when it cannot be found).

    In production the URL is already content-hashed; in development it is not, so the
    file's bytes go into the worker's version and an edit still makes a new cache.
    """
    found = finders.find(name)
    if not found:
        return ""
    path = Path(found)
    stat = path.stat()
    return _file_digest(str(path), stat.st_mtime_ns, stat.st_size)


def precache_urls() -> list[str]:
    """The URLs the service worker stores at install: the offline page and its assets."""
    return [reverse("offline"), *(static(name) for name in PRECACHE_STATIC)]


def offline_page_html(request: HttpRequest) -> str:
    """The offline page as everyone gets it (rendered as for an anonymous visitor)."""
    return render_to_string(
        "pwa/offline.html", _anonymous_context(), request=_as_anonymous(request)
    )


def _as_anonymous(request: HttpRequest) -> HttpRequest:
    """The request as if nobody were signed in (a shallow copy: the caller's is untouched).

    Templates and context processors that look at ``request.user`` then see nobody too.
    """
    anonymous = copy.copy(request)
    anonymous.user = AnonymousUser()
    return anonymous


def _anonymous_context() -> dict[str, Any]:
    # The view's context wins over the context processors': no user name, no navigation and
    # no flash messages (reading them would use them up) go into a page that is cached.
    return {"user": AnonymousUser(), "messages": [], "user_role": None, "can_review": False}


def worker_version(request: HttpRequest) -> str:
    """A short version of everything the worker precaches: a change makes a new cache."""
    digest = hashlib.sha256(CACHE_SCHEMA.encode())
    for url, name in zip(precache_urls()[1:], PRECACHE_STATIC, strict=True):
        digest.update(f"{url}\0{_static_digest(name)}\0".encode())
    digest.update(offline_page_html(request).encode())
    return digest.hexdigest()[:16]


def _static_urls_are_hashed() -> bool:
    """True when ``{% static %}`` URLs carry a content hash (production storage)."""
    return isinstance(staticfiles_storage, ManifestFilesMixin)


@require_GET
@never_cache
def service_worker(request: HttpRequest) -> HttpResponse:
    config = {
        "version": worker_version(request),
        "offlineUrl": reverse("offline"),
        "precache": precache_urls(),
        "staticUrl": settings.STATIC_URL,
        # Hashed URLs never change their bytes: serve them from the cache first. Unhashed
        # ones (development) go to the network first and use the cache only when offline.
        "cacheFirst": _static_urls_are_hashed(),
    }
    body = render_to_string(
        "pwa/sw.js", {"config_json": json.dumps(config, indent=2)}, request=request
    )
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response


@require_safe  # HEAD too: the offline page asks with HEAD whether the site answers again
def offline(request: HttpRequest) -> HttpResponse:
    """What the service worker shows instead of the browser's error when a page cannot load.

    Public and the same for everyone (the worker fetches it without cookies), so it
    may sit in the device's cache.
    """
    response = render(_as_anonymous(request), "pwa/offline.html", _anonymous_context())
    patch_cache_control(response, public=True, max_age=3600)
    return response


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: what makes the site installable as an app."""
    body = {
        "id": "/",
        "name": APP_NAME,
        "short_name": APP_SHORT_NAME,
        "description": "Photo orders for events: upload, AI processing, delivery to the PMR.",
        "start_url": reverse("home"),
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "lang": "en",
        "icons": [
            {"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("icons/maskable-192.png"),
                "sizes": "192x192",
                "type": "image/png",
                "purpose": "maskable",
            },
            {
                "src": static("icons/maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": static("icons/rkh-mark.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    response = JsonResponse(body, content_type="application/manifest+json")
    patch_cache_control(response, public=True, max_age=3600)
    return response


@require_GET
def favicon(request: HttpRequest) -> FileResponse:
    """``/favicon.ico``: browsers ask for it on pages with no icon link (JSON, images, admin).

    Answered with the file rather than a redirect, so that no request for it ends in
    a 404 or depends on the hashed static URL of the day.
    """
    name = "icons/favicon.ico"
    found = finders.find(name)
    try:
        # The source file, or the collected one where only STATIC_ROOT is deployed.
        handle = open(found, "rb") if found else staticfiles_storage.open(name)  # noqa: SIM115
    except OSError as exc:  # a broken deployment, not something a visitor can cause
        raise Http404("No favicon") from exc
    response = FileResponse(handle, content_type="image/x-icon")
    patch_cache_control(response, public=True, max_age=86400)
    return response
