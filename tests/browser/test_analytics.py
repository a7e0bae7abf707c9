"""The analytics dashboard in a real Chromium: Chart.js from /static/ draws every chart from
the page's numbers, nothing is fetched from another host, and the filters work."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import VIEWER
from tests.analytics.world import D1, D3, build_world
from tests.browser.test_login_flows import sign_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Known-pass-4711"
SCREENSHOT = "/tmp/rkh-analytics.png"
CHARTS = (
    "chart-volume",
    "chart-completion",
    "chart-cost-day",
    "chart-cost-preset",
    "chart-quality",
)
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def test_dashboard_draws_charts_with_chart_js_from_static_only(page: Page, live_server, event):
    world = build_world(event)
    viewer = make_user(VIEWER, password=PASSWORD)
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

    page.goto("/")
    sign_in(page, viewer.username, PASSWORD)
    with page.expect_response(lambda r: "chart.umd.min.js" in r.url) as chart_js:
        page.get_by_test_id("nav-analytics").click()
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    assert chart_js.value.status == 200
    assert urlsplit(chart_js.value.url).path == "/static/vendor/chartjs/chart.umd.min.js"
    expect(page.locator("#chart-volume")).to_have_attribute("data-ready", "1")
    assert len(page.evaluate("Chart.getChart('chart-volume').data.labels")) == 30

    # The world's days through the form.
    page.get_by_label("From", exact=True).fill(D1.isoformat())
    page.get_by_label("To", exact=True).fill(D3.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{live_server.url}/analytics/?start=2025-03-10&end=2025-03-12&event=")

    for chart in CHARTS:  # the PMR chart is checked below
        canvas = page.locator(f"#{chart}")
        expect(canvas).to_be_visible()
        expect(canvas).to_have_attribute("data-ready", "1")
    assert page.evaluate("window.Chart.version").startswith("4.")
    box = page.locator("#chart-volume").bounding_box()
    assert box is not None
    assert box["width"] > 200
    assert box["height"] > 100

    # The charts carry the page's numbers (see tests/analytics/world.py).
    volume = page.evaluate(
        "(() => { const c = Chart.getChart('chart-volume');"
        " return [c.data.labels, c.data.datasets[0].data, c.data.datasets[1].data]; })()"
    )
    assert volume == [["2025-03-10", "2025-03-11", "2025-03-12"], [3, 2, 1], [4, 3, 0]]
    median_minutes = page.evaluate("Chart.getChart('chart-completion').data.datasets[0].data")
    assert median_minutes == [None, 25, 90]
    presets = page.evaluate("Chart.getChart('chart-cost-preset').data.labels")
    assert presets == ["School", "(no preset: default)", "Wedding retouch"]
    expect(page.locator("#chart-pmr")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("total-orders")).to_have_text("6")

    # The event filter narrows every chart.
    page.get_by_label("Event ID", exact=True).fill(world.event_b.event_id)
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("total-orders")).to_have_text("2")
    expect(page.locator("#chart-volume")).to_have_attribute("data-ready", "1")
    assert page.evaluate("Chart.getChart('chart-volume').data.datasets[0].data") == [1, 1, 0]
    page.screenshot(path=SCREENSHOT, full_page=True)

    assert requests, "no request was seen"
    foreign = [url for url in requests if urlsplit(url).hostname not in LOCAL_HOSTS]
    assert foreign == []
    assert any(urlsplit(u).path == "/static/js/analytics.js" for u in requests)
    assert errors == []  # no script error (Chart.js or ours)
    # Chromium asks for /favicon.ico on its own; the project has none. Nothing else may fail.
    assert [url for url in failed if urlsplit(url).path != "/favicon.ico"] == []
