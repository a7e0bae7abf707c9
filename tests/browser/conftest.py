"""Playwright fixtures: one headless Chromium per session, a fresh context per test.

The browser is Debian's Chromium at ``/usr/bin/chromium`` (Playwright's own
browser downloads are not used). A missing or broken browser fails the tests
with a clear message; set ``RKH_SKIP_BROWSER=1`` to skip them instead.
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long a single Playwright action or assertion may wait (milliseconds).
TIMEOUT_MS = 10_000


def _no_browser(reason: str) -> None:
    if os.environ.get("RKH_SKIP_BROWSER") == "1":
        pytest.skip(f"browser tests skipped (RKH_SKIP_BROWSER=1): {reason}")
    pytest.fail(
        f"Cannot run the browser tests: {reason}. Install Chromium (apt-get install chromium) "
        "or set RKH_SKIP_BROWSER=1 to skip them.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def browser() -> Iterator:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _no_browser(f"the playwright package is not importable ({exc})")
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _no_browser(f"{CHROMIUM} is missing or not executable")
    playwright = sync_playwright().start()
    try:
        try:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
            )
        except PlaywrightError as exc:
            _no_browser(f"{CHROMIUM} did not start: {exc.message.splitlines()[0]}")
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def context(browser, live_server) -> Iterator:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}, locale="en-US"
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context) -> Iterator:
    page = context.new_page()
    yield page
    page.close()


@pytest.fixture(autouse=True)
def _own_cache_prefix(settings) -> Iterator[None]:
    """Give each browser test its own cache key prefix.

    Sessions and allauth's rate limits (failed sign-ins per IP, sign-ins per
    minute) live in the Redis cache; without this, running the tests a few times
    in a row would trip the limits. The test's keys are deleted afterwards.
    """
    from django.core.cache import caches

    prefix = f"rkh-test-browser-{uuid.uuid4().hex[:12]}"
    cache_settings = copy.deepcopy(settings.CACHES)
    cache_settings["default"]["KEY_PREFIX"] = prefix
    settings.CACHES = cache_settings
    yield
    client = caches["default"]._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
    if keys:
        client.delete(*keys)
