"""The review queue in a real Chromium: the keyboard flow and the side-by-side near-duplicate.

- keyboard only: j moves, x selects three images, a approves them; the list drops them, the
  summary is announced in the live region, focus stays visible on the image left; r asks
  for a confirmation (with the optional reason) and rejects; ? lists the shortcuts;
- a near-duplicate is shown beside the image of the other order it matches, both pictures
  loaded; Enter opens both previews side by side; "Discard duplicate" rejects it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from orders.models import Image
from tests.ai_processing.review import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    many_in_review_fixture,
    media_root_fixture,
    near_duplicate_fixture,
)
from tests.live.conftest import session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

S = Image.Status
SCREENSHOT = "/tmp/rkh-review-queue.png"


@pytest.fixture
def review_page(context, live_server, manager):
    """The review queue open in the browser, signed in as a Manager."""
    context.add_cookies(
        [{"name": "sessionid", "value": session_cookie(manager), "url": live_server.url}]
    )
    page = context.new_page()

    def _open() -> Page:
        page.goto("/review/")
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        return page

    yield _open
    page.close()


def _item(page: Page, image: Image):
    return page.locator(f'[data-testid="review-item"][data-image="{image.pk}"]')


def _focus_is_visible(page: Page) -> bool:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return el.matches(":focus-visible") && style.outlineStyle !== "none"
                && parseFloat(style.outlineWidth) >= 2;
        }"""
    )


def test_select_three_with_x_and_approve_them_with_a(review_page, many_in_review):
    images = many_in_review(4)
    page = review_page()
    items = page.get_by_test_id("review-item")
    expect(items).to_have_count(4)
    summary = page.get_by_test_id("review-summary")
    expect(summary).to_have_attribute("role", "status")
    expect(summary).to_have_attribute("aria-live", "polite")

    page.keyboard.press("j")
    expect(_item(page, images[0])).to_be_focused()
    assert _focus_is_visible(page)
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("x")
    expect(page.get_by_test_id("selected-count")).to_have_text("3 images selected")
    for image in images[:3]:
        expect(_item(page, image).get_by_test_id("select")).to_be_checked()
    expect(_item(page, images[3]).get_by_test_id("select")).not_to_be_checked()

    page.keyboard.press("a")
    expect(summary).to_have_text("3 approved.")
    expect(items).to_have_count(1)
    expect(_item(page, images[3])).to_be_focused()  # focus goes on to the image left
    assert _focus_is_visible(page)
    expect(page.get_by_test_id("review-total")).to_have_text("1 image waiting for review")
    expect(page.locator('[data-reason-count="no_provider"]')).to_have_text("1")
    # The filter form's choices follow too (they said 4 after the answer, seen in a walk).
    reasons = page.get_by_test_id("filter-reason")
    expect(reasons.locator('option[value="no_provider"]')).to_have_text(re.compile(r" \(1\)$"))
    order_ref = images[0].order.order_ref
    orders = page.get_by_test_id("filter-order")
    expect(orders.locator(f'option[value="{order_ref}"]')).to_have_text(f"{order_ref} (1)")
    statuses = dict(Image.objects.filter(pk__in=[i.pk for i in images]).values_list("pk", "status"))
    assert [statuses[i.pk] for i in images] == [S.PROCESSED] * 3 + [S.NEEDS_REVIEW]

    # ? lists the shortcuts; Esc closes the list and focus comes back.
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("approve the selected images")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    expect(_item(page, images[3])).to_be_focused()

    # r asks first; the reason typed there goes with the rejection.
    page.keyboard.press("r")
    confirm = page.get_by_role("dialog", name="Reject IMG_0003.jpg?")
    expect(confirm).to_be_visible()
    expect(confirm.get_by_label("Reason (optional)")).to_be_focused()
    page.keyboard.type("test shot")
    page.keyboard.press("Enter")
    expect(summary).to_have_text("1 rejected.")
    expect(items).to_have_count(0)
    expect(page.get_by_test_id("no-reviews-left")).to_be_visible()
    expect(page.get_by_test_id("no-reviews-left")).to_be_focused()
    rejected = Image.objects.get(pk=images[3].pk)
    assert rejected.status == S.REJECTED
    assert rejected.status_reason == "Rejected by a reviewer: test shot"


def test_bulk_reject_is_confirmed_and_can_be_cancelled(review_page, many_in_review):
    images = many_in_review(2)
    page = review_page()
    page.get_by_test_id("select-all").check()
    expect(page.get_by_test_id("selected-count")).to_have_text("2 images selected")
    page.get_by_test_id("bulk-reject").click()
    confirm = page.get_by_role("dialog", name="Reject 2 images?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_test_id("review-item")).to_have_count(2)
    assert set(Image.objects.filter(pk__in=[i.pk for i in images]).values_list("status")) == {
        (S.NEEDS_REVIEW,)
    }
    # Another reviewer answers one meanwhile: the rejection says so instead of failing.
    from ai_processing import services

    services.approve_image(images[0])
    page.get_by_test_id("bulk-reject").click()
    page.get_by_role("dialog", name="Reject 2 images?").get_by_role("button", name="Reject").click()
    summary = page.get_by_test_id("review-summary")
    expect(summary).to_have_text(
        "1 rejected, 1 could not be: IMG_0000.jpg is no longer waiting for review "
        "(it is processed now)."
    )
    expect(summary).to_have_attribute("data-level", "warning")
    expect(page.get_by_test_id("review-item")).to_have_count(0)


def test_a_near_duplicate_side_by_side_then_discarded(review_page, near_duplicate):
    copy, original = near_duplicate()
    page = review_page()
    item = _item(page, copy)
    this, matched = item.get_by_test_id("this-image"), item.get_by_test_id("matched-image")
    expect(this).to_contain_text("copy_of_0420.jpg")
    expect(this).to_contain_text(copy.order.order_ref)
    expect(this).to_contain_text("Capture time unknown")
    expect(matched).to_contain_text("IMG_0420.jpg")
    expect(matched).to_contain_text(original.order.order_ref)
    expect(matched).to_contain_text("Taken 15 Jun 2024, 14:03")
    for side in (this, matched):
        picture = side.get_by_role("img")
        expect(picture).to_be_visible()
        picture.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
        )
    # Side by side: the two pictures on one row.
    this_box, matched_box = this.bounding_box(), matched.bounding_box()
    assert abs(this_box["y"] - matched_box["y"]) < 2
    assert matched_box["x"] > this_box["x"] + this_box["width"] - 1
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.keyboard.press("j")
    expect(item).to_be_focused()
    page.keyboard.press("Enter")
    preview = page.get_by_role("dialog", name="copy_of_0420.jpg")
    expect(preview).to_be_visible()
    expect(preview.get_by_role("img")).to_have_count(2)
    expect(preview.get_by_role("img").nth(1)).to_have_attribute("alt", "Looks like: IMG_0420.jpg")
    page.keyboard.press("Escape")
    expect(preview).to_be_hidden()
    expect(item).to_be_focused()

    item.get_by_role("button", name="Discard duplicate").click()
    expect(page.get_by_test_id("review-summary")).to_have_text("1 rejected.")
    expect(item).to_have_count(0)
    copy.refresh_from_db()
    assert copy.status == S.REJECTED
    assert Image.objects.get(pk=original.pk).status == S.INGESTED
