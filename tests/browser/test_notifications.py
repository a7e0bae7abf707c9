"""Notifications in a real Chromium against a real ASGI web process (uvicorn) and real Redis.

- the bell's count follows new notifications live: on the dashboard over the dashboard's own
  socket, on other pages over ``ws/notifications/``; while the tab is open each new one is
  also shown with the Notifications API (the permission granted in the browser context, the
  ``new Notification`` calls recorded by an init script);
- the settings page asks the permission only from the button, and says what the browser allows;
- Web Push reaches the service worker: Chromium here cannot subscribe at Google's push service
  (no internet), so the test registers ``/sw.js`` and delivers the server's push payload to it
  through the DevTools protocol (``ServiceWorker.deliverPushMessage``), then reads the
  notification the worker showed (``registration.getNotifications()``). Clicking a system
  notification cannot be driven from here; the URL the click opens (``open_url``) is followed
  instead, and leads to the order, marked read. The server's half of Web Push (VAPID, RFC 8291
  encryption) is tested against the push service simulator (tests/notifications).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from notifications import push
from notifications.models import Notification
from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import make_user
from tests.live.conftest import session_cookie
from tests.live.servers import WebProcess, web_processes
from tests.notifications.conftest import complete, notify_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LIVE_TIMEOUT_MS = 20_000

#: Records what the page shows with the Notifications API (and still shows it).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__shown = [];
  function Recorder(title, options) {
    window.__shown.push({ title, body: (options || {}).body, tag: (options || {}).tag });
    try { return new Real(title, options); } catch (e) { return { close() {} }; }
  }
  Object.defineProperty(Recorder, "permission", { get: () => Real.permission });
  Recorder.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorder;
})();
"""


@pytest.fixture
def web(settings, tmp_path) -> Iterator[WebProcess]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with web_processes(1, media_root=settings.MEDIA_ROOT, log_dir=tmp_path) as (process,):
        yield process


@pytest.fixture
def page_as(browser, web) -> Iterator[Callable[..., Page]]:
    contexts = []

    def _page(user, *, allow_notifications: bool = True) -> Page:
        context = browser.new_context(
            base_url=web.url, viewport={"width": 1280, "height": 800}, locale="en-US"
        )
        context.set_default_timeout(TIMEOUT_MS)
        if allow_notifications:
            context.grant_permissions(["notifications"], origin=web.url)
        context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": web.url}])
        context.add_init_script(RECORD_NOTIFICATIONS)
        contexts.append(context)
        return context.new_page()

    yield _page
    for context in contexts:
        context.close()


def shown(page: Page) -> list[dict]:
    return page.evaluate("window.__shown")


def test_the_bell_follows_new_notifications_live(page_as, web, make_order):
    user = make_user("User")
    page = page_as(user)
    frames: list[str] = []
    sockets: list[str] = []

    def watch(ws) -> None:
        sockets.append(ws.url)
        ws.on("framereceived", lambda payload: frames.append(payload))

    page.on("websocket", watch)

    page.goto("/")  # the dashboard: the bell rides on the dashboard's socket
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("bell-count")).to_be_hidden()
    first_order = make_order(user)
    (note,) = notify_for(complete(first_order))

    expect(page.get_by_test_id("bell-count")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_test_id("bell")).to_have_attribute("aria-label", "Notifications, 1 unread")
    assert shown(page) == [
        {"title": note.title, "body": note.body, "tag": f"rkh-notification-{note.pk}"}
    ]
    assert [url.split("/ws/")[1] for url in sockets] == ["dashboard/"]  # no second socket
    assert any('"notifications"' in frame for frame in frames)

    page.goto("/notifications/")  # no live socket of its own: the bell opens ws/notifications/
    expect(page.get_by_test_id("notification")).to_have_count(1)
    expect(page.get_by_test_id("bell-count")).to_have_text("1")
    for _ in range(100):
        if any(url.endswith("/ws/notifications/") for url in sockets):
            break
        page.wait_for_timeout(100)
    assert sockets[-1].endswith("/ws/notifications/")
    (second,) = notify_for(complete(make_order(user)))
    expect(page.get_by_test_id("bell-count")).to_have_text("2", timeout=LIVE_TIMEOUT_MS)
    assert [entry["title"] for entry in shown(page)] == [second.title]  # only the new one

    page.reload()
    expect(page.get_by_test_id("notification")).to_have_count(2)
    page.screenshot(path="/tmp/rkh-notifications.png", full_page=True)
    page.get_by_test_id("read-all").click()
    expect(page.get_by_test_id("bell-count")).to_be_hidden()
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()


def test_browser_notifications_stay_off_without_permission_or_choice(page_as, make_order):
    from accounts import services as account_services

    user = make_user("User")
    page = page_as(user, allow_notifications=False)
    page.goto("/notifications/")
    notify_for(complete(make_order(user)))
    expect(page.get_by_test_id("bell-count")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    assert shown(page) == []  # not allowed in this browser: nothing shown, nothing asked

    allowed = page_as(user)
    allowed.goto("/notifications/")
    account_services.update_settings(
        user, {"notifications": {"order_completed": {"browser": False}}}
    )
    notify_for(complete(make_order(user)))
    expect(allowed.get_by_test_id("bell-count")).to_have_text("2", timeout=LIVE_TIMEOUT_MS)
    assert shown(allowed) == []  # the user chose no browser notifications for this kind


def test_settings_page_asks_permission_only_from_the_button(page_as, web):
    user = make_user("User")
    page = page_as(user, allow_notifications=False)
    page.goto("/notifications/settings/")
    state = page.get_by_test_id("permission-state")
    expect(state).to_have_attribute("data-state", "default")
    expect(state).to_contain_text("has not been asked yet")
    page.context.grant_permissions(["notifications"], origin=web.url)
    page.get_by_test_id("allow-notifications").click()
    expect(state).to_have_attribute("data-state", "granted")
    expect(state).to_have_text("Notifications are allowed in this browser.")
    expect(page.get_by_test_id("allow-notifications")).to_be_hidden()
    expect(page.get_by_test_id("push-toggle")).to_be_enabled()
    page.screenshot(path="/tmp/rkh-notification-settings.png", full_page=True)


def test_a_push_message_reaches_the_service_worker(page_as, web, make_order):
    user = make_user("User")
    order = make_order(user)
    (note,) = notify_for(complete(order))
    page = page_as(user)
    page.goto("/notifications/settings/")
    scope = page.evaluate(
        "navigator.serviceWorker.register('/sw.js', {scope: '/'})"
        ".then(() => navigator.serviceWorker.ready).then(r => r.scope)"
    )
    assert scope == f"{web.url}/"

    cdp = page.context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")

    def ours() -> list[dict]:
        # Updates arrive one registration at a time (and again as it changes): the newest
        # live entry for the site's scope.
        found = {
            r["registrationId"]: r
            for r in registrations
            if r["scopeURL"] == f"{web.url}/" and not r.get("isDeleted")
        }
        return list(found.values())

    waited_ms = 0
    while not ours() and waited_ms < TIMEOUT_MS:
        page.wait_for_timeout(100)
        waited_ms += 100
    (registration,) = ours()

    payload = push.payload_for(note).decode()  # exactly what the server encrypts and sends
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": web.url, "registrationId": registration["registrationId"], "data": payload},
    )
    page.wait_for_function(
        "navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(list => list.length > 0)",
        timeout=TIMEOUT_MS,
    )
    (seen,) = page.evaluate(
        "navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(list => list.map(n => ({title: n.title, body: n.body, tag: n.tag, data: n.data})))"
    )
    assert seen["title"] == note.title
    assert seen["body"] == note.body
    assert seen["tag"] == f"rkh-notification-{note.pk}"
    assert seen["data"]["url"] == f"{web.url}/orders/{order.order_ref}/"
    assert seen["data"]["openUrl"] == f"{web.url}/notifications/{note.pk}/open"
    assert json.loads(payload)["open_url"] == f"/notifications/{note.pk}/open"

    page.goto(seen["data"]["openUrl"])  # what a click opens
    expect(page).to_have_url(f"{web.url}/orders/{order.order_ref}/")
    note.refresh_from_db()
    assert note.read_at is not None
