"""The installable app in a real Chromium: the manifest as the browser parses it, its icons, the
service worker controlling the page, and the offline page instead of the browser's error.

Playwright's offline mode (``context.set_offline``) applies to the service worker's own fetches
in Chromium too: the navigation the worker sends to the network fails as it would with the cable
pulled, and the worker answers the precached offline page. (Checked below: the page the browser
shows carries the offline page's marker, which only the worker's cache can give while offline.)
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import USER
from orders import services
from tests.browser.test_login_flows import sign_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Known-pass-4711"


def wait_for_control(page: Page) -> str:
    """Wait until a service worker controls the page; its script URL."""
    page.wait_for_function(
        "() => navigator.serviceWorker && navigator.serviceWorker.controller !== null"
    )
    return page.evaluate("navigator.serviceWorker.controller.scriptURL")


def test_manifest_icons_and_service_worker_make_it_installable(page: Page, live_server):
    statuses: list[tuple[int, str]] = []
    page.on("response", lambda response: statuses.append((response.status, response.url)))
    page.goto("/accounts/login/")
    assert wait_for_control(page) == f"{live_server.url}/sw.js"

    cdp = page.context.new_cdp_session(page)
    answer = cdp.send("Page.getAppManifest")
    assert answer["url"] == f"{live_server.url}/manifest.webmanifest"
    assert answer["errors"] == []
    manifest = answer["manifest"]  # as Chromium understood it
    assert manifest["name"] == "RKH Photo Orders"
    assert manifest["display"] == "kStandalone"
    assert manifest["startUrl"] == f"{live_server.url}/"
    assert manifest["scope"] == f"{live_server.url}/"
    assert manifest["themeColor"] == "rgba(21,33,58,1)"  # the top bar's #15213a
    sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    # Chromium's own installability check: everything passes but "incognito" (Playwright's
    # contexts are incognito profiles, where no app can be installed).
    problems = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert [p["errorId"] for p in problems] in ([], ["in-incognito"])

    # Every icon the manifest and the page name is a real picture.
    urls = [icon["url"] for icon in manifest["icons"]]
    urls += page.eval_on_selector_all(
        "link[rel=icon], link[rel=apple-touch-icon]", "links => links.map(l => l.href)"
    )
    for url in urls:
        width = page.evaluate(
            """(url) => new Promise((ok, fail) => {
                const img = new Image();
                img.onload = () => ok(img.naturalWidth);
                img.onerror = () => fail(new Error("no picture at " + url));
                img.src = url;
            })""",
            url,
        )
        assert width > 0, url
    favicon = page.request.get("/favicon.ico")
    assert favicon.status == 200
    assert favicon.headers["content-type"] == "image/x-icon"
    assert not [url for status, url in statuses if status >= 400]


def test_offline_page_instead_of_the_browsers_error(page: Page, live_server, event):
    user = make_user(USER, password=PASSWORD)
    order = services.create_order(actor=user, event=event, customer_name="Offline")
    page.goto("/")
    sign_in(page, user.username, PASSWORD)
    wait_for_control(page)
    page.goto(f"/orders/{order.order_ref}/")
    expect(page.get_by_role("heading", name=re.compile(order.order_ref))).to_be_visible()

    page.context.set_offline(True)
    page.goto("/orders/")  # a navigation with no connection
    offline = page.get_by_test_id("offline-page")
    expect(offline).to_be_visible()
    expect(page).to_have_url(re.compile(r"/orders/$"))  # shown at the address that failed
    expect(page).to_have_title(re.compile(r"^No connection · RKH Photo Orders$"))
    expect(offline).to_contain_text("continue by themselves")
    # The site's look (the stylesheet comes from the worker's cache), and nothing personal.
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).backgroundColor") == (
        "rgb(21, 33, 58)"
    )
    assert user.username not in page.content()
    assert order.order_ref not in page.content()
    # A reload while offline gets the same page; so does the order page itself.
    page.goto(f"/orders/{order.order_ref}/")
    expect(offline).to_be_visible()

    # The connection comes back: the page loads by itself what was asked for.
    page.context.set_offline(False)
    expect(page.get_by_role("heading", name=re.compile(order.order_ref))).to_be_visible()
    expect(offline).to_be_hidden()


def test_nothing_private_is_kept_by_the_worker(page: Page, live_server, event):
    """After visiting an order page (with images JSON and live polling), the worker's caches
    hold only the public precache list."""
    user = make_user(USER, password=PASSWORD)
    order = services.create_order(actor=user, event=event, customer_name="Private")
    page.goto("/")
    sign_in(page, user.username, PASSWORD)
    wait_for_control(page)
    page.goto(f"/orders/{order.order_ref}/")
    page.goto("/orders/")
    page.goto(f"/orders/{order.order_ref}/")
    cached = page.evaluate(
        """async () => {
            const out = [];
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) out.push([name, request.url]);
            }
            return out;
        }"""
    )
    names = {name for name, _ in cached}
    assert len(names) == 1
    assert names.pop().startswith("rkh-app-")
    paths = sorted(re.sub(r"^https?://[^/]+", "", url) for _, url in cached)
    assert paths == sorted(
        [
            "/offline/",
            "/static/css/app.css",
            "/static/icons/icon-192.png",
            "/static/icons/rkh-mark.svg",
            "/static/js/offline-page.js",
            "/static/js/sw-register.js",
        ]
    )
