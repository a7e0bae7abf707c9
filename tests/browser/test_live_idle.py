"""A live page left open and idle keeps its one WebSocket (issue: it dropped every ~5 s).

The order page and the dashboard are opened in a real Chromium against a real
uvicorn process with the deployed heartbeat (``tests.settings``: 25 s, not the
hour of ``tests.live.web_settings``) and real Redis, then left alone for more
than a minute. Each page must have opened exactly one socket, still open, its
state "Live" the whole time (never "Reconnecting…"), with heartbeats arriving,
and the server must have logged no failure.

The defect: redis-py 8 gives every connection a 5 s read timeout by default,
and channels-redis waits for channel messages with a blocking BZPOPMIN of 5 s,
so an idle consumer's read timed out and its socket closed (1006).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import MANAGER
from orders import services
from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import make_user
from tests.live.conftest import session_cookie
from tests.live.servers import WebProcess, web_processes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IDLE_SECONDS = 65
HEARTBEAT_SECONDS = 25

RECORD_STATES = """
() => {
  const node = document.querySelector('[data-testid="live-state"]');
  window.__states = [node.dataset.state];
  new MutationObserver(() => window.__states.push(node.dataset.state))
    .observe(node, {attributes: true, attributeFilter: ["data-state"]});
}
"""


@pytest.fixture
def web(settings, tmp_path) -> Iterator[WebProcess]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "LIVE_HEARTBEAT_S": str(HEARTBEAT_SECONDS)}
    with web_processes(1, media_root=settings.MEDIA_ROOT, log_dir=tmp_path, env=env) as (web,):
        yield web


class Sockets:
    """The WebSockets a page opened and what happened to them."""

    def __init__(self, page: Page) -> None:
        self.opened: list = []
        self.closed: list[str] = []
        self.heartbeats = 0
        page.on("websocket", self._opened)

    def _opened(self, ws) -> None:
        self.opened.append(ws)
        ws.on("close", lambda ws: self.closed.append(ws.url))
        ws.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        text = payload if isinstance(payload, str) else payload.decode()
        if '"heartbeat"' in text:
            self.heartbeats += 1


def test_idle_order_page_and_dashboard_keep_their_socket(browser, web, event):
    manager = make_user(MANAGER)
    order = services.create_order(actor=manager, event=event, customer_name="Idle")
    context = browser.new_context(base_url=web.url, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies([{"name": "sessionid", "value": session_cookie(manager), "url": web.url}])
    pages = {}
    try:
        for name, path in (("order", f"/orders/{order.order_ref}/"), ("dashboard", "/")):
            page = context.new_page()
            sockets = Sockets(page)
            page.goto(path)
            expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
            page.evaluate(RECORD_STATES)
            pages[name] = (page, sockets)

        deadline = time.monotonic() + IDLE_SECONDS
        while time.monotonic() < deadline:  # idle, but let Playwright deliver its events
            next(iter(pages.values()))[0].wait_for_timeout(1000)

        for name, (page, sockets) in pages.items():
            states = page.evaluate("window.__states")
            assert states == ["live"], f"{name} page left the live state: {states}"
            assert len(sockets.opened) == 1, f"{name} page reconnected: {len(sockets.opened)}"
            assert sockets.closed == [], f"{name} page's socket closed"
            assert sockets.heartbeats >= IDLE_SECONDS // HEARTBEAT_SECONDS, name
    finally:
        context.close()
    log = web.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "failed" not in log.lower(), log[-3000:]
