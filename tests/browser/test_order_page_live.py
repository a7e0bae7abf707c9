"""Everything the order page shows follows the live state, in a real Chromium (uvicorn).

- The PMR box goes from "Uploading" to "Delivered" and the drop zone gives way to the
  "no more images" notice while the page is open, as the PMR delivery (drained in the test
  process against the PMR simulator) completes the order: no reload.
- Images that arrive while the page is open take their place in the name order.
- Success reads green, not in the error red; a delivered image's note is not red.
- The order's details follow edits and assignments made elsewhere.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect

from accounts.roles import MANAGER, USER
from orders import intake, services
from orders.models import Order
from pmr import drain, outbox
from pmr.simulator import PMRSimulator
from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import make_user
from tests.live.conftest import session_cookie
from tests.live.servers import WebProcess, web_processes
from tests.pmr.conftest import add_processed_images, clean_pmr_redis

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"
LIVE_TIMEOUT_MS = 30_000
SCREENSHOT = "/tmp/rkh-order-delivered.png"
#: app.css: the note and message colours by level.
SUCCESS_TEXT = "rgb(20, 89, 42)"
ERROR_TEXT = "rgb(140, 29, 19)"


@pytest.fixture
def web(settings, tmp_path) -> Iterator[WebProcess]:
    """A real ASGI web process (HTTP and WebSocket) on the test database and media."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with web_processes(1, media_root=settings.MEDIA_ROOT, log_dir=tmp_path) as (process,):
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


@pytest.fixture
def pmr_sim(settings, event):
    """The PMR simulator, for the drains this test process runs; the event open in it."""
    clean_pmr_redis(settings.REDIS_URL)
    with PMRSimulator(port=0) as sim:
        settings.PMR_BASE_URL = sim.base_url
        settings.PMR_RETRY_BASE_SECONDS = 0.01
        sim.add_events([{"event_id": event.event_id, "name": event.name, "status": "open"}], [])
        yield sim
    clean_pmr_redis(settings.REDIS_URL)


def test_pmr_box_and_drop_zone_follow_the_delivery_live(page_as, web, pmr_sim, make_order):
    user = make_user(USER)
    order = make_order(user, customer_name="Delivered live")
    add_processed_images(order, 2)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING, ai_processed=True)
    order.refresh_from_db()
    with transaction.atomic():
        outbox.deliver(order)

    page = page_as(user)
    page.goto(f"/orders/{order.order_ref}/")
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    box = page.get_by_test_id("pmr-state")
    # Each image goes as its original and its edited file: the box counts files.
    expect(box).to_have_text("Uploading: 0 of 4 files of 2 images delivered.")
    # Handed to the PMR delivery: the drop zone has already given way to the notice.
    expect(page.get_by_test_id("dropzone")).to_have_count(0)
    expect(page.get_by_test_id("upload-refused")).to_contain_text("handed to the PMR delivery")
    page.evaluate("window.__sameDocument = 'yes'")

    result = drain.drain_order(order.pk)  # the PMR takes the order: it completes
    assert not result.blocked
    try:
        expect(box).to_have_text(
            "Delivered: 2 images in the PMR (2 originals and 2 edited files).",
            timeout=LIVE_TIMEOUT_MS,
        )
        expect(page.locator("#order-status")).to_have_text("Completed")
        expect(page.get_by_test_id("pmr-status")).to_have_text("Completed")
        notice = page.get_by_test_id("upload-refused")
        expect(notice).to_have_text(
            f"Order {order.order_ref} is completed; no more images can be added."
        )
        expect(notice).to_be_visible()
        timeline = page.locator("#timeline")
        expect(timeline).to_contain_text("Sent to the PMR: 2 images delivered")
        expect(timeline).to_contain_text("delivered to the PMR")
        cards = page.locator('#image-grid [data-testid="image-status"]')
        expect(cards).to_have_text(["Delivered to the PMR"] * 2)
    except AssertionError:
        print(f"web log:\n{web.log.read_text()[-3000:]}")
        raise
    # Success is green; a delivered image's card says it once (the badge), with no note
    # repeating it ("uploaded to the PMR" under "Delivered to the PMR").
    assert box.evaluate("e => getComputedStyle(e).color") == SUCCESS_TEXT
    expect(page.locator("#image-grid .reason")).to_have_count(0)
    assert "uploaded to the PMR" not in page.locator("#image-grid").inner_text()
    text = page.locator("body").inner_text()
    for code in ("pmr.delivered", "pmr.", "synced", "Synced"):
        assert code not in text
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert page.evaluate("window.__sameDocument") == "yes"  # no reload


def test_the_drop_zone_gives_way_live_when_the_order_is_cancelled(page_as, make_order):
    user = make_user(USER)
    order = make_order(user, customer_name="Cancelled live")
    page = page_as(user)
    page.goto(f"/orders/{order.order_ref}/")
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("dropzone")).to_be_visible()
    expect(page.get_by_test_id("upload-refused")).to_be_hidden()
    page.evaluate("window.__sameDocument = 'yes'")

    services.change_order_status(order, "cancelled", actor=user, reason="not needed")

    notice = page.get_by_test_id("upload-refused")
    expect(notice).to_have_text(
        f"Order {order.order_ref} is cancelled; no more images can be added.",
        timeout=LIVE_TIMEOUT_MS,
    )
    expect(page.get_by_test_id("dropzone")).to_be_hidden()
    expect(page.locator("#upload")).to_be_hidden()
    expect(page.locator("#no-images")).to_have_text("No images.")
    assert page.evaluate("window.__sameDocument") == "yes"


def _add(order, name: str) -> None:
    photo = sorted(PHOTOS.glob("*.png"))[len(name) % 3]
    intake.add_image(order, source=io.BytesIO(photo.read_bytes()), filename=name)


def test_images_arriving_live_take_their_place_in_name_order(page_as, make_order):
    user = make_user(USER)
    order = make_order(user, customer_name="Name order")
    for name in ("IMG_10.png", "IMG_1.png"):
        _add(order, name)
    page = page_as(user)
    page.goto(f"/orders/{order.order_ref}/")
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    names = page.locator("#image-grid .filename")
    expect(names).to_have_text(["IMG_1.png", "IMG_10.png"])
    page.evaluate("window.__sameDocument = 'yes'")

    _add(order, "IMG_2.png")
    expect(names).to_have_text(["IMG_1.png", "IMG_2.png", "IMG_10.png"], timeout=LIVE_TIMEOUT_MS)
    _add(order, "IMG_11.png")
    _add(order, "a.png")
    expect(names).to_have_text(
        ["a.png", "IMG_1.png", "IMG_2.png", "IMG_10.png", "IMG_11.png"], timeout=LIVE_TIMEOUT_MS
    )
    assert page.evaluate("window.__sameDocument") == "yes"


def test_a_success_message_is_green_and_an_error_red(page_as, event):
    user = make_user(USER)
    page = page_as(user)
    page.goto("/orders/new/")
    page.get_by_label("Event ID").fill(event.event_id)
    page.get_by_label("Customer name").fill("Ada Lovelace")
    page.get_by_role("button", name="Create order").click()
    message = page.get_by_test_id("message-success")
    expect(message).to_contain_text("created")
    page.wait_for_load_state("load")  # the style sheet applied, not only the text there
    assert message.evaluate("e => getComputedStyle(e).color") == SUCCESS_TEXT
    # An error note (the same levels as messages) is red.
    color = page.evaluate(
        """() => { const p = document.createElement('p'); p.className = 'message error';
        document.body.append(p); return getComputedStyle(p).color; }"""
    )
    assert color == ERROR_TEXT


def test_the_order_details_follow_edits_made_elsewhere(page_as, make_order):
    user = make_user(USER)
    manager = make_user(MANAGER)
    order = make_order(user, customer_name="Before")
    page = page_as(user)
    page.goto(f"/orders/{order.order_ref}/")
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    expect(page.locator("#fact-notes")).to_be_hidden()
    page.evaluate("window.__sameDocument = 'yes'")

    services.update_order(
        order, actor=manager, customer_name="After", customer_email="a@b.example", notes="1\n2"
    )
    services.assign_order(order, manager, actor=manager)
    expect(page.locator("#fact-customer_name")).to_have_text("After", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#fact-customer_email")).to_have_text("a@b.example")
    expect(page.locator("#fact-notes")).to_be_visible()
    expect(page.locator("#fact-notes")).to_have_text("1\n2")
    expect(page.locator("#fact-assigned_to")).to_have_text(str(manager), timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#timeline")).to_contain_text(f"Assigned to {manager}")
    assert page.evaluate("window.__sameDocument") == "yes"
