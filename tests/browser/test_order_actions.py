"""A User does from the order page alone what the issue asks (no API, no admin), in Chromium:
reads why the order needs review and who acts, edits its details, retries a failed image,
reprocesses the order with another preset, cancels it; the "What happens next" box follows
the order live. A Viewer sees the facts and no button. And the Manager's dashboard shows
"Needs attention" live: an image going to review, an AI provider going down.

Against a real ASGI web process (uvicorn, tests.live.servers) so the pages' WebSockets work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.roles import MANAGER, USER, VIEWER
from ai_processing.models import ProcessingPreset
from ai_processing.providers.registry import chain_from_settings
from orders import services
from orders.models import Image, Order
from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import make_user
from tests.live.conftest import session_cookie
from tests.live.servers import WebProcess, web_processes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/rkh-order-actions.png"
REVIEW_SCREENSHOT = "/tmp/rkh-order-review.png"
DASHBOARD_SCREENSHOT = "/tmp/rkh-dashboard-attention.png"


LIVE_TIMEOUT_MS = 30_000


@pytest.fixture
def web(settings, tmp_path) -> Iterator[WebProcess]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with web_processes(1, media_root=settings.MEDIA_ROOT, log_dir=tmp_path) as (process,):
        yield process


@pytest.fixture
def page_as(browser, web) -> Iterator[Callable[..., Page]]:
    """``page_as(user)``: a page of a fresh browser context on the web process, signed in."""
    contexts = []

    def _page(user) -> Page:
        context = browser.new_context(
            base_url=web.url, viewport={"width": 1366, "height": 900}, locale="en-US"
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": web.url}])
        contexts.append(context)
        return context.new_page()

    yield _page
    for context in contexts:
        context.close()


@pytest.fixture(autouse=True)
def clean_circuits(settings):
    def clean() -> None:
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = [*client.scan_iter("rkh:ai:breaker*"), *client.scan_iter("rkh:pmr:breaker*")]
        if keys:
            client.delete(*keys)

    clean()
    yield clean
    clean()


def _image(order: Order, name: str, status: str, **fields) -> Image:
    image = Image.objects.create(
        order=order,
        original=f"originals/{order.pk}/{name}",
        original_filename=name,
        status=status,
        ingested_at=timezone.now(),
        **fields,
    )
    services.refresh_image_counters(order.pk)
    return image


def test_a_user_works_on_their_order_from_the_page(page_as, event):
    user = make_user(USER)
    warm = ProcessingPreset.objects.create(name="Warm prints", slug="warm-b", operations=[])
    ProcessingPreset.objects.create(name="Cool prints", slug="cool-b", operations=[])
    order = services.create_order(actor=user, event=event, customer_name="Ada", preset=warm)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.NEEDS_REVIEW)
    _image(order, "beach.jpg", Image.Status.PROCESSED)
    _image(
        order,
        "dark.jpg",
        Image.Status.NEEDS_REVIEW,
        status_reason="No AI provider could edit",
        ai_metadata={"trail": {"edit": [{"provider": "runware", "outcome": "unavailable"}]}},
    )
    _image(
        order,
        "broken.jpg",
        Image.Status.FAILED,
        status_reason="AI processing failed because of an internal error (ValueError).",
    )
    page = page_as(user)
    page.goto(f"/orders/{order.order_ref}/")
    box = page.get_by_test_id("order-actions")

    # Why, and who acts.
    expect(box).to_contain_text("1 image needs a person's decision before the order can go on")
    expect(page.get_by_test_id("review-why")).to_contain_text(
        "dark.jpg: No AI service could edit it: Runware could not be reached."
    )
    expect(page.get_by_test_id("review-next")).to_contain_text("A manager reviews these images")
    page.screenshot(path=REVIEW_SCREENSHOT, full_page=True)

    # Edit the details.
    box.get_by_role("link", name="Edit details").click()
    page.get_by_label("Customer name").fill("")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_text("Enter the customer's name.")).to_be_visible()
    page.get_by_label("Customer name").fill("Ada Lovelace")
    page.get_by_label("Notes").fill("Prints by Friday")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_text(f"The details of order {order.order_ref} are saved.")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("Ada Lovelace")
    expect(page.locator("#timeline")).to_contain_text("Details edited: customer name, notes")

    # Retry the failed image: it goes back to the AI step.
    failed = page.get_by_test_id("failed-images")
    expect(failed).to_contain_text("broken.jpg: AI processing failed")
    failed.get_by_role("button", name="Retry broken.jpg").click()
    expect(page.get_by_text("broken.jpg is being processed again.")).to_be_visible()
    expect(page.get_by_test_id("failed-images")).to_have_count(0)
    # While it is in work, reprocessing waits, and says so.
    expect(page.get_by_test_id("reprocess-refused")).to_have_text(
        f"1 image of {order.order_ref} is still being processed; reprocess once it is done."
    )

    # The AI step fails it again (a worker would): the box follows live, no reload.
    page.evaluate("window.__sameDocument = 'yes'")
    broken = order.images.get(original_filename="broken.jpg")
    services.change_image_status(broken, Image.Status.FAILED, reason="internal error again")
    expect(page.get_by_test_id("failed-images")).to_contain_text(
        "internal error again", timeout=LIVE_TIMEOUT_MS
    )
    assert page.evaluate("window.__sameDocument") == "yes"

    # Reprocess with another preset.
    page.get_by_label("Preset").select_option(label="Cool prints")
    page.get_by_role("button", name="Reprocess").click()
    expect(
        page.get_by_text("3 images are being reprocessed with preset Cool prints.")
    ).to_be_visible()
    expect(page.locator("#order-status")).to_have_text("Processing")
    order.refresh_from_db()
    assert order.preset.slug == "cool-b"
    assert set(order.images.values_list("status", flat=True)) == {Image.Status.INGESTED}

    # Cancel, after a confirmation.
    page.get_by_role("link", name="Cancel order…").click()
    expect(page.get_by_role("heading", name=f"Cancel order {order.order_ref}?")).to_be_visible()
    page.get_by_label("Why (optional, shown in the timeline)").fill("customer withdrew")
    page.get_by_role("button", name="Cancel the order").click()
    expect(page.get_by_text(f"Order {order.order_ref} is cancelled.")).to_be_visible()
    expect(page.get_by_test_id("next-step")).to_have_text("Cancelled. Nothing more happens to it.")
    expect(page.get_by_test_id("upload-refused")).to_contain_text("no more images can be added")
    expect(page.get_by_role("link", name="Edit details")).to_have_count(0)
    page.screenshot(path=SCREENSHOT, full_page=True)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_a_viewer_sees_the_facts_and_no_button(page_as, event):
    owner = make_user(USER)
    order = services.create_order(actor=owner, event=event, customer_name="Grace")
    Order.objects.filter(pk=order.pk).update(status=Order.Status.NEEDS_REVIEW)
    _image(order, "broken.jpg", Image.Status.FAILED, status_reason="It broke.")
    page = page_as(make_user(VIEWER))
    page.goto(f"/orders/{order.order_ref}/")
    expect(page.get_by_test_id("failed-images")).to_contain_text("broken.jpg: It broke.")
    expect(page.get_by_test_id("upload-refused")).to_have_text(
        "Your role does not add images to this order."
    )
    for name in ("Edit details", "Cancel order…"):
        expect(page.get_by_role("link", name=name)).to_have_count(0)
    for name in ("Retry broken.jpg", "Retry all failed", "Reprocess"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)


def test_needs_attention_appears_live_on_an_open_dashboard(page_as, event, settings):
    manager = make_user(MANAGER)
    order = services.create_order(actor=manager, event=event, customer_name="Live panel")
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING)
    image = _image(order, "a.jpg", Image.Status.INGESTED)
    redis.Redis.from_url(settings.REDIS_URL).delete("rkh:pmr:breaker:pmr")
    page = page_as(manager)
    page.goto("/")
    expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("attention-none")).to_be_visible()
    expect(page.get_by_test_id("count-attention")).to_have_text("0")
    page.evaluate("window.__sameDocument = 'yes'")

    # An image goes to review (a timeline entry rings the dashboard).
    services.change_image_status(image, Image.Status.NEEDS_REVIEW, reason="no provider")
    items = page.get_by_test_id("attention-items")
    expect(items).to_contain_text(
        "1 order needs review (1 image): approve, redo or replace them in the review queue.",
        timeout=LIVE_TIMEOUT_MS,
    )
    expect(items.get_by_role("link", name="Open the review queue")).to_have_attribute(
        "href", "/review/"
    )
    expect(page.get_by_test_id("count-attention")).to_have_text("1")
    row = page.locator(f'#dashboard-orders tr[data-ref="{order.order_ref}"]')
    expect(row.get_by_test_id("attention-flag")).to_have_text("1 image waits for review.")

    # An AI provider goes down (no timeline entry: its circuit breaker rings the dashboard).
    breaker = chain_from_settings().breaker
    for _ in range(settings.AI_BREAKER_FAILURES):
        breaker.record_failure("runware")
    expect(items).to_contain_text("Runware is not answering", timeout=LIVE_TIMEOUT_MS)
    page.screenshot(path=DASHBOARD_SCREENSHOT, full_page=True)

    breaker.record_success("runware")  # it answers again: the item goes
    expect(items).not_to_contain_text("Runware", timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") == "yes"
