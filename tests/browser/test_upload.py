"""Order intake in a real Chromium: new order page, folder upload, live grid, preview dialog,
and a large file that resumes from the server's offset after a dropped request.

The folder test runs a real ingest worker (tests/workers.py): the grid's
polling follows the images from "uploaded" to their ingest verdicts and the
order to "Processing". The other tests only upload; their ingest jobs wait in
the test broker's queue, which the next worker start empties.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import USER
from ai_processing.models import ProcessingPreset
from orders import services
from orders.models import Image, Order, Upload
from tests.browser.test_login_flows import sign_in
from tests.conftest import make_user, orders_of_customer
from tests.workers import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Known-pass-4711"
SCREENSHOT = "/tmp/rkh-order-upload.png"
PHOTO_DIRS = (
    Path(__file__).resolve().parents[1] / "data" / "photos",
    Path("/work/shared/data/photos"),
)
#: Where every row of a finished upload ends: the image's verdict from intake, or "checking"
#: while it has none yet (no worker runs), or refused at the door.
ARRIVED_OR_REJECTED = re.compile(r"^(Uploaded, checking…|Ingested|Needs review: .+|Rejected: .+)$")
CHECKING = "Uploaded, checking…"


def photos() -> list[Path]:
    for folder in PHOTO_DIRS:
        found = sorted([*folder.glob("*.png"), *folder.glob("*.jpg")])
        if len(found) >= 5:
            return found[:5]
    pytest.skip("no sample photographs (tests/data/photos or /work/shared/data/photos)")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def ingest_worker(media, settings, tmp_path):
    """A real ``celery worker -Q ingest`` on the test database and this test's media."""
    with celery_worker(
        "ingest,ai",
        media_root=settings.MEDIA_ROOT,
        log_dir=tmp_path,
        env={"AI_PROVIDERS": "local"},  # no Runware/Gemini simulator runs in this test
    ) as log:
        yield log


@pytest.fixture
def signed_in_user(page: Page, live_server):
    user = make_user(USER, password=PASSWORD)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/")
    sign_in(page, user.username, PASSWORD)
    expect(page.get_by_test_id("role")).to_have_text(USER)
    return user


def create_order_through_the_page(page: Page, event) -> Order:
    page.get_by_role("link", name="New order").first.click()
    expect(page.get_by_role("heading", name="New order")).to_be_visible()
    page.get_by_label("Event ID").fill("NO-SUCH-EVENT")
    page.get_by_label("Customer name").fill("Ada Lovelace")
    page.get_by_role("button", name="Create order").click()
    expect(page.get_by_text("Unknown Event ID “NO-SUCH-EVENT”")).to_be_visible()

    page.get_by_label("Event ID").fill(event.event_id)
    page.get_by_label("Customer e-mail").fill("ada@example.com")
    page.get_by_label("Processing preset").select_option(label="Studio retouch")
    page.get_by_role("button", name="Create order").click()
    expect(page).to_have_url(re.compile(r"/orders/ORD-\d{4}-\d{6}/$"))
    (order,) = orders_of_customer("Ada Lovelace")
    assert order.preset.name == "Studio retouch"
    expect(page.get_by_role("heading", name=re.compile(order.order_ref))).to_be_visible()
    # A click waits for the new page to commit, not for its scripts: the drop zone listens
    # once the page has loaded (a busy machine showed the gap).
    page.wait_for_load_state("load")
    return order


def test_folder_upload_with_progress_rejections_grid_and_preview(
    page: Page, live_server, signed_in_user, event, tmp_path, ingest_worker
):
    ProcessingPreset.objects.create(name="Studio retouch", slug="studio-retouch", operations=[])
    order = create_order_through_the_page(page, event)

    # A shoot folder with a subfolder: five photographs, a repeat of one of them, a text
    # file named like a photo, an empty file and a system leftover that is skipped.
    shoot = tmp_path / "shoot"
    (shoot / "ceremony").mkdir(parents=True)
    sources = photos()
    for i, source in enumerate(sources):
        target = shoot / ("ceremony" if i % 2 else "") / source.name
        shutil.copy(source, target)
    shutil.copy(sources[0], shoot / "ceremony" / f"copy-of-{sources[0].name}")
    (shoot / "notes.jpg").write_text("This is not a photograph.\n")
    (shoot / "empty.jpg").write_bytes(b"")
    (shoot / ".DS_Store").write_bytes(b"\0" * 64)

    page.locator("#folder-input").set_input_files(shoot)

    items = page.get_by_test_id("upload-item")
    expect(items).to_have_count(8)
    for i in range(8):
        expect(items.nth(i).get_by_test_id("upload-state")).to_have_text(ARRIVED_OR_REJECTED)

    def state_of(name: str):
        return (
            page.get_by_test_id("upload-item").filter(has_text=name).get_by_test_id("upload-state")
        )

    # Refused at the door: nothing stored.
    expect(state_of("empty.jpg")).to_have_text("Rejected: File is empty (0 bytes).")
    expect(state_of(f"copy-of-{sources[0].name}")).to_have_text(
        re.compile(rf"^Rejected: Exact duplicate of {re.escape(sources[0].name)}")
    )
    expect(page.locator("#batch-progress")).to_have_js_property("position", 1.0)
    expect(page.get_by_role("button", name="Retry failed")).to_be_hidden()
    expect(page.locator("#upload-announce")).to_contain_text("Upload finished")
    # Each row follows the image its file became to intake's verdict: the text file named
    # like a photo arrived fine and is rejected by the real worker, not left as "uploaded".
    expect(state_of("notes.jpg")).to_have_text(
        re.compile(r"^Rejected: This is a text file, not a photograph"), timeout=60_000
    )
    for source in sources:
        expect(state_of(source.name).first).to_have_text("Ingested", timeout=60_000)
    expect(page.get_by_test_id("batch-text")).to_have_text("5 of 8 files uploaded · 3 rejected")
    # The sentence above says the same once intake's verdict came in (it said "6 of 8" before).
    expect(page.locator("#upload-announce")).to_have_text(
        "Upload finished: 5 of 8 files uploaded · 3 rejected."
    )

    # Stored: all but the empty file and the repeat (ingest may already have judged them).
    stored = Image.objects.filter(order=order, file_size__gt=0, duplicate_of__isnull=True)
    assert stored.count() == 6
    for source in sources:
        image = stored.get(original_filename=source.name)
        assert image.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert not Upload.objects.filter(status=Upload.Status.OPEN).exists()

    # The grid shows the new images as they arrive, "uploaded", then follows ingest.
    grid = page.get_by_test_id("image-grid")
    expect(grid.locator(".card")).to_have_count(7)  # the repeat is listed, rejected
    # The real worker ingests them; the page follows by itself.
    expect(grid.locator(".card[data-pending]")).to_have_count(0, timeout=60_000)
    notes = grid.locator(".card").filter(has_text="notes.jpg")
    expect(notes.get_by_test_id("image-status")).to_have_text("Rejected")
    expect(notes.locator(".reason")).to_have_text(
        re.compile(r"^This is a text file, not a photograph")
    )
    thumbs = grid.locator("a.thumb img")
    expect(thumbs).to_have_count(5)
    for i in range(5):
        expect(thumbs.nth(i)).to_have_js_property("complete", True)
        assert thumbs.nth(i).evaluate("img => img.naturalWidth") > 0
    expect(page.locator("#ingested-text")).to_have_text("5/7")
    expect(page.locator("#order-status")).to_have_text("Processing", timeout=20_000)

    page.screenshot(path=SCREENSHOT, full_page=True)

    # Keyboard only: focus a thumbnail, Enter opens the preview, Esc closes, focus returns.
    first_thumb = grid.locator("a.thumb").first
    first_thumb.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#preview-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#preview-img")).to_have_attribute("src", re.compile(r"/preview\?v="))
    expect(dialog.locator("#preview-img")).to_have_js_property("complete", True)
    assert dialog.locator("#preview-img").evaluate("img => img.naturalWidth") > 0
    expect(dialog.get_by_role("link", name="Download original")).to_be_visible()
    page.screenshot(path=SCREENSHOT.replace(".png", "-preview.png"))
    first_name = dialog.locator("#preview-title").inner_text()
    assert first_name == grid.locator(".card:has(a.thumb) .filename").first.inner_text()
    page.keyboard.press("ArrowRight")  # the next image
    expect(dialog.locator("#preview-title")).not_to_have_text(first_name)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(grid.locator("a.thumb").nth(1)).to_be_focused()


def test_dropped_files_and_folders_are_read_recursively(
    page: Page, live_server, signed_in_user, event
):
    """A drop with directory entries (as Chromium gives for a dropped folder), read in batches."""
    order = services.create_order(actor=signed_in_user, event=event, customer_name="Dropper")
    page.goto(f"/orders/{order.order_ref}/")
    blobs = {p.name: base64.b64encode(p.read_bytes()).decode() for p in photos()[:4]}
    page.evaluate(
        """(blobs) => {
        const file = (name) => new File(
            [Uint8Array.from(atob(blobs[name]), (c) => c.charCodeAt(0))], name);
        const names = Object.keys(blobs);
        const fileEntry = (name) => ({isFile: true, isDirectory: false, name,
            file: (ok) => setTimeout(() => ok(file(name)))});
        // A folder whose reader answers in two batches, then an empty one (like Chromium).
        const dirEntry = (name, children) => ({isFile: false, isDirectory: true, name,
            createReader() {
                const batches = [children.slice(0, 1), children.slice(1), []];
                return {readEntries: (ok) => setTimeout(() => ok(batches.shift()))};
            }});
        const folder = dirEntry("wedding", [
            fileEntry(names[0]), dirEntry("party", [fileEntry(names[1]), fileEntry(names[2])])]);
        const items = [
            {kind: "file", webkitGetAsEntry: () => folder, getAsFile: () => null},
            {kind: "file", webkitGetAsEntry: () => null, getAsFile: () => file(names[3])},
            {kind: "string", webkitGetAsEntry: () => null, getAsFile: () => null},
        ];
        const drop = new Event("drop", {bubbles: true, cancelable: true});
        Object.defineProperty(drop, "dataTransfer", {value: {items, files: []}});
        document.getElementById("dropzone").dispatchEvent(drop);
    }""",
        blobs,
    )
    items = page.get_by_test_id("upload-item")
    expect(items).to_have_count(4)
    names = list(blobs)
    expect(items.locator("label")).to_have_text(
        # Loose files first, then each folder depth-first, with its path.
        [names[3], f"wedding/{names[0]}", f"wedding/party/{names[1]}", f"wedding/party/{names[2]}"],
        use_inner_text=True,
    )
    for i in range(4):
        expect(items.nth(i).get_by_test_id("upload-state")).to_have_text(CHECKING)
    assert Image.objects.filter(order=order).count() == 4
    assert set(Image.objects.values_list("original_filename", flat=True)) == set(names)


def test_large_file_resumes_from_the_server_offset_after_a_dropped_request(
    page: Page, live_server, signed_in_user, event, tmp_path, settings
):
    settings.UPLOAD_CHUNK_BYTES = 2 * 1024 * 1024
    order = services.create_order(actor=signed_in_user, event=event, customer_name="Big file")
    big = tmp_path / "panorama.tif"
    data = hashlib.sha256(b"seed").digest() * (20 * 1024 * 1024 // 32)  # 20 MB
    big.write_bytes(data)

    patches: list[int] = []
    gets_after_drop: list[str] = []
    dropped = []

    def handle(route):
        request = route.request
        if request.method == "PATCH":
            offset = int(request.headers["upload-offset"])
            patches.append(offset)
            if len(patches) == 4 and not dropped:  # the fourth chunk: connection dies
                dropped.append(offset)
                route.abort("connectionreset")
                return
        elif request.method == "GET" and dropped:
            gets_after_drop.append(request.url)
        route.continue_()

    page.goto(f"/orders/{order.order_ref}/")
    page.route(re.compile(r"/uploads/[0-9a-f-]{36}/$"), handle)
    page.locator("#file-input").set_input_files(big)

    state = page.get_by_test_id("upload-state")
    expect(state).to_have_text(CHECKING, timeout=30_000)
    chunk = settings.UPLOAD_CHUNK_BYTES
    # 0, 2, 4, 6 (dropped), then it asked the server and resent from 6 MB: never from zero.
    assert dropped == [3 * chunk]
    assert len(gets_after_drop) >= 1
    assert patches == [i * chunk for i in range(4)] + [i * chunk for i in range(3, 10)]
    image = Image.objects.get(order=order)
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert image.file_size == len(data)


def test_retry_failed_resends_only_the_failed_files(page: Page, live_server, signed_in_user, event):
    order = services.create_order(actor=signed_in_user, event=event, customer_name="Retry")
    posts: list[str] = []
    patches: dict[str, int] = {}
    refused: list[str] = []

    def handle(route):
        request = route.request
        if request.method == "POST":
            posts.append(request.url)
        elif request.method == "PATCH":
            patches[request.url] = patches.get(request.url, 0) + 1
            if not refused:  # the first chunk of one file: the session looked expired
                refused.append(request.url)
                route.fulfill(
                    status=403,
                    content_type="application/json",
                    body='{"error": {"code": "signed_out", "details": {}, '
                    '"message": "Sign in first; your session may have ended."}}',
                )
                return
        route.continue_()

    page.goto(f"/orders/{order.order_ref}/")
    page.route(re.compile(r"/uploads/"), handle)
    # The picker opens from a native, focusable button (so Enter works for keyboard
    # users). Headless Chromium does not reliably hand a file chooser to Playwright
    # for a key press once an earlier page in the session used a file input, so the
    # test presses it with the pointer.
    pick = page.get_by_role("button", name="Choose files…")
    pick.focus()
    assert page.evaluate("document.activeElement.id") == "pick-files"
    with page.expect_file_chooser() as chooser:
        pick.click()
    assert chooser.value.is_multiple()
    chooser.value.set_files(photos()[:3])

    states = page.get_by_test_id("upload-state")
    expect(states.filter(has_text="Upload failed: Sign in first")).to_have_count(1)
    expect(states.filter(has_text=CHECKING)).to_have_count(2)
    expect(page.get_by_test_id("batch-text")).to_have_text("2 of 3 files uploaded · 1 failed")
    retry = page.get_by_role("button", name="Retry failed")
    expect(retry).to_be_visible()
    retry.focus()
    page.keyboard.press("Enter")

    expect(states.filter(has_text=CHECKING)).to_have_count(3)
    expect(retry).to_be_hidden()
    assert len(posts) == 3  # no file was opened twice
    assert patches[refused[0]] == 2  # the failed one went again, from where it was
    assert sorted(n for url, n in patches.items() if url != refused[0]) == [1, 1]
    assert Image.objects.filter(order=order).count() == 3
