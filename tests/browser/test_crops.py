"""Adjusting a print crop in a real Chromium, on the review page.

An order asks for an 8×10; its photo is too small for it at 300 DPI, so the real AI step
sends the image to review with the reason. The review item shows the crop editor open:
the frame is moved with the keyboard (arrows, minus, Enter saves) and with the mouse (a drag,
then "Save crop"); each save reaches the database as a manual crop and the timeline.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ai_processing import services
from orders import print_services
from orders.models import Image, OrderEvent, PrintCrop
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
)
from tests.live.conftest import session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/rkh-crop-editor.png"


@pytest.fixture
def short_image(ingested_order, manager, settings) -> Image:
    settings.PRINT_MIN_DPI = 300
    order = ingested_order("analyze-only")
    print_services.set_order_prints(order, [{"size": "8x10", "quantity": 1}], actor=manager)
    image = services.process_image(order.images.get().pk)
    assert image.review_reason == Image.ReviewReason.PRINT_SIZE
    return image


@pytest.fixture
def review_page(context, live_server, manager):
    context.add_cookies(
        [{"name": "sessionid", "value": session_cookie(manager), "url": live_server.url}]
    )
    page = context.new_page()
    yield page
    page.close()


def _crop(image: Image) -> PrintCrop:
    return PrintCrop.objects.get(image=image, size__code="8x10")


def test_adjust_a_crop_with_keyboard_and_mouse(review_page: Page, short_image: Image):
    page = review_page
    before = _crop(short_image)
    assert before.basis in ("faces", "centre")
    page.goto("/review/")
    item = page.locator(f'[data-testid="review-item"][data-image="{short_image.pk}"]')
    expect(item.get_by_test_id("review-reason")).to_contain_text("8×10 needs 3000×2400 pixels")
    editor = item.get_by_test_id("crop-editor")
    status = editor.get_by_test_id("crop-status")
    expect(status).to_contain_text("8×10:")
    expect(status).to_contain_text("DPI")
    expect(editor.get_by_test_id("crop-size-8x10")).to_have_attribute("aria-pressed", "true")
    box = editor.get_by_test_id("crop-box")
    expect(box).to_be_visible()
    item.screenshot(path=SCREENSHOT)

    # Keyboard: shrink twice, move left and up, Enter saves.
    box.focus()
    expect(box).to_be_focused()
    for key in ("-", "-", "-", "ArrowLeft", "ArrowUp"):
        page.keyboard.press(key)
    expect(status).to_contain_text("not saved yet")
    page.keyboard.press("Enter")
    expect(status).to_contain_text("Saved.")
    expect(box).to_be_focused()  # the review page's shortcuts did not take the keys
    after_keys = _crop(short_image)
    assert after_keys.basis == PrintCrop.Basis.MANUAL
    assert after_keys.width < before.width
    assert after_keys.width == pytest.approx(before.width - 0.06, abs=0.011)
    assert OrderEvent.objects.filter(
        order_id=short_image.order_id, kind=OrderEvent.Kind.IMAGE_CROP
    ).exists()

    # Mouse: drag the frame to the right by a quarter of the picture, then "Save crop".
    stage = editor.locator("[data-crop-stage]").bounding_box()
    frame = box.bounding_box()
    start_x, start_y = frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2
    page.mouse.move(start_x, start_y)
    page.mouse.down()
    page.mouse.move(start_x + stage["width"] * 0.1, start_y, steps=5)
    page.mouse.move(start_x + stage["width"] * 0.25, start_y, steps=5)
    page.mouse.up()
    expect(status).to_contain_text("not saved yet")
    editor.get_by_test_id("crop-save").click()
    expect(status).to_contain_text("Saved.")
    expect(status).to_contain_text("set by hand")
    after_drag = _crop(short_image)
    assert after_drag.x > after_keys.x
    assert after_drag.x + after_drag.width <= 1.0001
    assert after_drag.width == pytest.approx(after_keys.width, abs=1e-3)

    # Back to the automatic placement.
    editor.get_by_test_id("crop-auto").click()
    expect(status).to_have_text(re.compile(r"Saved\..*(around the faces|centred)\.$"))
    assert _crop(short_image).basis in ("faces", "centre")
