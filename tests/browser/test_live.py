"""Live status in a real Chromium against a real ASGI web process (uvicorn).

- the order page follows an order while a real worker ingests and processes it:
  progress, status, timeline and grid change without a reload, over the
  WebSocket (no polling request is made);
- where WebSockets fail (the route to ``/ws/`` is cut, as by a proxy), the page
  falls back to polling the timeline endpoint and still follows the order;
- the dashboard's counters, open orders and activity follow a new order live.

pytest-django's ``live_server`` speaks WSGI only (no WebSocket), so these tests
start uvicorn on the test database (``tests.live.servers``) and point a
browser context of their own at it, signed in with a real session cookie.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import MANAGER, USER
from ai_processing.models import ProcessingPreset
from orders import intake, services
from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import make_user
from tests.live.conftest import session_cookie
from tests.live.servers import WebProcess, web_processes
from tests.workers import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"
SCREENSHOT = "/tmp/rkh-order-live.png"
LIVE_TIMEOUT_MS = 30_000


@pytest.fixture
def media(settings, tmp_path) -> str:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture
def web(media, tmp_path) -> Iterator[WebProcess]:
    with web_processes(1, media_root=media, log_dir=tmp_path) as (process,):
        yield process


@pytest.fixture
def page_as(browser, web) -> Iterator[Callable[..., Page]]:
    """``page_as(user)``: a page of a fresh browser context on the web process, signed in."""
    contexts = []

    def _page(user) -> Page:
        context = browser.new_context(
            base_url=web.url, viewport={"width": 1366, "height": 800}, locale="en-US"
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": web.url}])
        contexts.append(context)
        return context.new_page()

    yield _page
    for context in contexts:
        context.close()


class Traffic:
    """What the page did: polling requests made, WebSocket frames received."""

    def __init__(self, page: Page) -> None:
        self.polls: list[str] = []
        self.frames: list[str] = []
        page.on("request", self._request)
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _request(self, request) -> None:
        if "/timeline" in request.url or "/api/v1/dashboard" in request.url:
            self.polls.append(request.url)

    def _frame(self, payload) -> None:
        self.frames.append(payload if isinstance(payload, str) else payload.decode())


@pytest.mark.worker
def test_order_page_follows_a_worker_live(page_as, web, media, tmp_path, event):
    user = make_user(USER)
    preset = ProcessingPreset.objects.create(name="Quick", slug="quick-live", operations=[])
    order = services.create_order(actor=user, event=event, customer_name="Live", preset=preset)
    page = page_as(user)
    traffic = Traffic(page)
    with celery_worker(
        "ingest,ai", media_root=media, log_dir=tmp_path, env={"AI_PROVIDERS": "local"}
    ) as worker_log:
        page.goto(f"/orders/{order.order_ref}/")
        expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
        expect(page.locator("#order-status")).to_have_text("Draft")
        expect(page.locator("#ingested-text")).to_have_text("0/0")
        page.evaluate("window.__sameDocument = 'yes'")

        names = sorted(p.name for p in PHOTOS.glob("*.png"))[:3]
        for name in names:  # each its own commit, as uploads are; the worker ingests them
            intake.add_image(order, source=io.BytesIO((PHOTOS / name).read_bytes()), filename=name)

        try:
            timeline = page.locator("#timeline")
            expect(timeline).to_contain_text("→ Processing", timeout=LIVE_TIMEOUT_MS)
            expect(page.locator("#ingested-text")).to_have_text("3/3", timeout=LIVE_TIMEOUT_MS)
            expect(page.locator("#image-grid .card")).to_have_count(3)
            expect(page.locator("#image-grid .card img")).to_have_count(3, timeout=LIVE_TIMEOUT_MS)
            for name in names:
                expect(timeline).to_contain_text(f"{name} ingested")
            expect(page.locator("#processed-text")).to_have_text("3/3", timeout=LIVE_TIMEOUT_MS)
            # Each card followed its image to the end, from the live events alone.
            expect(page.locator('#image-grid [data-testid="image-status"]')).to_have_text(
                ["Processed"] * 3
            )
            expect(page.locator("#no-images")).to_be_hidden()
        except AssertionError:
            print(f"worker log:\n{Path(worker_log).read_text()[-3000:]}")
            print(f"web log:\n{web.log.read_text()[-3000:]}")
            raise
        page.screenshot(path=SCREENSHOT, full_page=True)
    assert page.evaluate("window.__sameDocument") == "yes"  # no reload
    assert traffic.polls == []  # everything came over the WebSocket
    assert any('"events"' in frame for frame in traffic.frames)


def test_order_page_falls_back_to_polling_when_websockets_fail(page_as, event):
    user = make_user(USER)
    order = services.create_order(actor=user, event=event, customer_name="Behind a proxy")
    page = page_as(user)
    traffic = Traffic(page)
    # A proxy that refuses WebSockets: every connection to /ws/ is closed at once.
    page.route_web_socket(re.compile(r"/ws/"), lambda ws: ws.close(code=1011))
    page.goto(f"/orders/{order.order_ref}/")
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "polling")
    page.evaluate("window.__sameDocument = 'yes'")

    services.change_order_status(order, "pending", actor=user, reason="from the test")
    services.update_order(order, actor=user, notes="edited while polling")

    expect(page.locator("#timeline")).to_contain_text(
        "Status Draft → Pending (from the test)", timeout=LIVE_TIMEOUT_MS
    )
    expect(page.locator("#timeline")).to_contain_text("Details edited: notes")
    expect(page.locator("#order-status")).to_have_text("Pending")
    # Each entry once, newest first.
    seqs = page.locator("#timeline li").evaluate_all("els => els.map(e => e.dataset.seq)")
    assert seqs == ["3", "2", "1"]
    assert page.evaluate("window.__sameDocument") == "yes"
    assert any(f"/api/v1/orders/{order.order_ref}/timeline?after=" in url for url in traffic.polls)
    assert not traffic.frames


def test_dashboard_follows_new_orders_live(page_as, event):
    manager = make_user(MANAGER)
    page = page_as(manager)
    traffic = Traffic(page)
    page.goto("/")
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("no-orders")).to_be_visible()
    expect(page.get_by_test_id("count-draft")).to_have_text("0")
    page.evaluate("window.__sameDocument = 'yes'")

    order = services.create_order(actor=manager, event=event, customer_name="Grace Hopper")
    row = page.locator(f'#dashboard-orders tr[data-ref="{order.order_ref}"]')
    expect(row).to_contain_text("Grace Hopper", timeout=LIVE_TIMEOUT_MS)
    expect(row).to_contain_text("Draft")
    expect(page.get_by_test_id("count-draft")).to_have_text("1")
    expect(page.get_by_test_id("count-total")).to_have_text("1")
    expect(page.get_by_test_id("no-orders")).to_be_hidden()
    expect(page.get_by_test_id("activity")).to_contain_text(f"{order.order_ref} Order created")

    services.change_order_status(order, "cancelled", actor=manager, reason="changed my mind")
    expect(row).to_have_count(0, timeout=LIVE_TIMEOUT_MS)  # no longer open
    expect(page.get_by_test_id("count-cancelled")).to_have_text("1")
    expect(page.get_by_test_id("activity")).to_contain_text("Cancelled (changed my mind)")
    assert page.evaluate("window.__sameDocument") == "yes"
    assert traffic.polls == []
