"""The approval page in a real Chromium (uvicorn web process): before/after and approve.

- each image shows the original's preview and the edited file, and the slider (keyboard or
  pointer) moves the split between them;
- "View at 100 %" loads the full-resolution files and shows the edited one at 1:1 in a frame
  that pans by dragging;
- approving one image, then the rest, sends the order on (the outbox rows are written once),
  and the order page open in another tab follows the approval live (status, "What happens
  next"), with no reload.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Callable, Iterator

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from accounts.roles import MANAGER
from orders import pipeline
from orders import services as order_services
from orders.models import Image, Order
from tests.ai_processing.approval import delivered, delivery_rows, hold_preset
from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import make_user
from tests.live.conftest import session_cookie
from tests.live.servers import WebProcess, web_processes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT_MS = 30_000
SCREENSHOT = "/tmp/rkh-approval-page.png"
LIST_SCREENSHOT = "/tmp/rkh-approval-list.png"
FULL = (1600, 1200)
_counter = itertools.count(1)


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    picture = PILImage.new("RGB", size, colour)
    for x in range(0, size[0], 40):  # some detail to pan over
        for y in range(size[1]):
            picture.putpixel((x, y), (255, 255, 255))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture
def web(settings, tmp_path) -> Iterator[WebProcess]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with web_processes(1, media_root=settings.MEDIA_ROOT, log_dir=tmp_path) as (process,):
        yield process


@pytest.fixture
def page_as(browser, web) -> Iterator[Callable[..., Page]]:
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


def held_with_files(make_order, owner, n: int) -> Order:
    """An order held for approval whose images have a preview (red) and an edit (blue)."""
    order = make_order(owner, preset=hold_preset())
    for i in range(n):
        k = next(_counter)
        original = _jpeg((200, 30 + k, 30), FULL)
        Image.objects.create(
            order=order,
            original=ContentFile(original, name=f"IMG_{i}.jpg"),
            preview=ContentFile(_jpeg((200, 30 + k, 30), (800, 600)), name="p.jpg"),
            thumbnail=ContentFile(_jpeg((200, 30 + k, 30), (400, 300)), name="t.jpg"),
            processed=ContentFile(_jpeg((30, 30 + k, 200), FULL), name="e.jpg"),
            original_filename=f"IMG_{i}.jpg",
            file_size=len(original),
            mime_type="image/jpeg",
            sha256=hashlib.sha256(original).hexdigest(),
            width=FULL[0],
            height=FULL[1],
            status=Image.Status.PROCESSED,
        )
    order_services.refresh_image_counters(order.pk)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING)
    with transaction.atomic():
        pipeline.ai_settled(Order.objects.get(pk=order.pk))
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_APPROVAL
    return order


def _split(page: Page, locator) -> str:
    return locator.evaluate("el => getComputedStyle(el).getPropertyValue('--split').trim()")


def test_compare_zoom_and_approve(page_as, web, make_order):
    manager = make_user(MANAGER)
    order = held_with_files(make_order, manager, 2)
    first, second = order.images.order_by("name_key")

    watcher = page_as(manager)  # the order page, open while someone approves
    watcher.goto(f"/orders/{order.order_ref}/")
    expect(watcher.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    expect(watcher.locator("#order-status")).to_have_text("Awaiting approval")
    expect(watcher.get_by_test_id("next-step")).to_contain_text("wait for approval")
    watcher.evaluate("window.__sameDocument = 'yes'")

    page = page_as(manager)
    page.goto(f"/orders/{order.order_ref}/approval/")
    items = page.get_by_test_id("approval-item")
    expect(items).to_have_count(2)
    expect(page.get_by_test_id("approval-summary")).to_contain_text("2 images")
    item = items.first
    frame = item.locator(".compare-frame")
    for img in (item.locator("img.compare-before"), item.locator("img.compare-after")):
        img.scroll_into_view_if_needed()
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("el => el.naturalWidth") > 0
    assert item.locator("img.compare-after").get_attribute("src").endswith("/edited")

    # The slider by keyboard: all the way to the edit, then to the original.
    slider = item.get_by_test_id("compare-slider")
    assert _split(page, frame) == "50%"
    slider.focus()
    page.keyboard.press("Home")
    assert _split(page, frame) == "0%"
    page.keyboard.press("End")
    assert _split(page, frame) == "100%"
    # ...and by pointer: a press at a quarter of the picture puts the split there.
    box = frame.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 4, box["y"] + box["height"] / 2)
    assert _split(page, frame) in {"24%", "25%", "26%"}
    assert slider.input_value() in {"24", "25", "26"}

    page.screenshot(path=LIST_SCREENSHOT, full_page=True)
    # 100 %: the full-resolution edit at 1:1, pannable by dragging.
    item.get_by_test_id("zoom-open").click()
    dialog = page.get_by_test_id("zoom")
    expect(dialog).to_be_visible()
    expect(page.locator("#zoom-stage")).to_have_attribute("data-ready", "true")
    sizes = page.evaluate(
        """() => {
            const after = document.getElementById('zoom-after');
            const before = document.getElementById('zoom-before');
            return [after.naturalWidth, after.getBoundingClientRect().width,
                    before.naturalWidth, before.getBoundingClientRect().width];
        }"""
    )
    assert sizes == [FULL[0], FULL[0], FULL[0], FULL[0]]
    expect(page.get_by_test_id("zoom-size")).to_contain_text("1600 \u00d7 1200 pixels at 100 %")
    pan = page.get_by_test_id("zoom-pan")
    start = pan.evaluate("el => [el.scrollLeft, el.scrollTop]")
    box = pan.bounding_box()
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 150, box["y"] + 200, steps=5)
    page.mouse.up()
    moved = pan.evaluate("el => [el.scrollLeft, el.scrollTop]")
    assert moved[0] > start[0]
    assert moved[1] > start[1]
    page.screenshot(path=SCREENSHOT)
    page.get_by_test_id("zoom-close").click()
    expect(dialog).to_be_hidden()

    # Approve the first image: it is marked, the order still waits.
    page.locator(f'[data-image="{first.pk}"]').get_by_test_id("approve-image").click()
    expect(page.get_by_test_id("message-success")).to_have_text(
        f"{first.original_filename} approved."
    )
    expect(
        page.locator(f'[data-image="{first.pk}"]').get_by_test_id("approved-badge")
    ).to_be_visible()
    assert not delivery_rows(order).exists()

    page.get_by_test_id("approve-all").click()
    expect(page.get_by_test_id("approval-summary")).to_contain_text("approved and handed")
    order.refresh_from_db()
    assert order.ai_processed
    assert order.status in (Order.Status.PROCESSING, Order.Status.COMPLETED)
    assert delivered(order) == (2, 1)
    second.refresh_from_db()
    assert second.approved_by == manager

    # The order page followed, live, in the same document.
    try:
        expect(watcher.locator("#order-status")).to_have_text("Processing", timeout=LIVE_TIMEOUT_MS)
        expect(watcher.get_by_test_id("next-step")).to_contain_text(
            "being delivered to the PMR", timeout=LIVE_TIMEOUT_MS
        )
        expect(watcher.locator("#timeline")).to_contain_text("Approved (1 image)")
    except AssertionError:
        print(f"web log:\n{web.log.read_text()[-3000:]}")
        raise
    assert watcher.evaluate("window.__sameDocument") == "yes"
