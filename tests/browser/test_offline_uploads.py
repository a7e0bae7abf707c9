"""The upload queue that survives: files cut off, queued offline, or left by a reload go on from
the server's offset when the connection is back; two tabs never send the same file.

What the server received is counted on the server (the live server runs in this process: the
upload functions are wrapped), so "not re-sent from zero" is checked where the bytes land, not
only in what the browser says it sent. "The connection" is Playwright's offline mode, which in
Chromium also cuts the service worker's fetches (tests/browser/test_app.py), plus aborted
requests (``route.abort``) where a test needs one chunk to die.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from accounts.roles import USER
from orders import services, uploads
from orders.models import Image, Upload
from tests.browser.test_app import wait_for_control
from tests.browser.test_login_flows import sign_in
from tests.browser.test_upload import CHECKING, PASSWORD, photos
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024
WAITING = "Waiting for the connection"
UPLOAD_URL = re.compile(r"/uploads/[0-9a-f-]{36}/$")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_CHUNK_BYTES = MB


@pytest.fixture
def uploader(page: Page, live_server):
    """A User, signed in through the page."""
    user = make_user(USER, password=PASSWORD)
    page.goto("/")
    sign_in(page, user.username, PASSWORD)
    expect(page.get_by_test_id("role")).to_have_text(USER)
    return user


@pytest.fixture
def server_log(monkeypatch):
    """What the server took: every stored chunk's (upload id, offset), every create.

    A chunk the server refuses (sent to an upload it had stopped: 410) stores nothing and is
    not listed."""
    log: dict[str, list] = {"chunks": [], "opened": []}
    real_append, real_open = uploads.append_chunk, uploads.open_upload

    def append_chunk(upload, *, offset, data, actor):
        result = real_append(upload, offset=offset, data=data, actor=actor)
        log["chunks"].append((str(upload.pk), offset))
        return result

    def open_upload(*args, **kwargs):
        opened = real_open(*args, **kwargs)
        log["opened"].append((str(opened.upload.pk), opened.created))
        return opened

    monkeypatch.setattr(uploads, "append_chunk", append_chunk)
    monkeypatch.setattr(uploads, "open_upload", open_upload)
    return log


def big_file(folder: Path, name: str, megabytes: int, seed: bytes = b"seed") -> tuple[Path, bytes]:
    data = hashlib.sha256(seed).digest() * (megabytes * MB // 32)
    path = folder / name
    path.write_bytes(data)
    return path, data


def wait_until(page: Page, condition: Callable[[], bool], seconds: float = 20) -> None:
    """Poll a server-side condition while the browser goes on (its event loop keeps running)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(100)


def hold_chunks(page: Page, at_or_after: int) -> dict:
    """Let the connection die for every chunk from ``at_or_after`` on, until ``open`` is set."""
    gate = {"open": False, "cut": []}

    def handle(route):
        request = route.request
        if request.method == "PATCH" and not gate["open"]:
            offset = int(request.headers["upload-offset"])
            if offset >= at_or_after:
                gate["cut"].append(offset)
                route.abort("connectionreset")
                return
        route.continue_()

    page.route(UPLOAD_URL, handle)
    return gate


def open_order_page(page: Page, order) -> None:
    page.goto(f"/orders/{order.order_ref}/")
    wait_for_control(page)  # the worker is there: a reload while offline shows the offline page


def kept_records(page: Page) -> list[dict]:
    """The queue this browser keeps (IndexedDB), without the files."""
    return page.evaluate(
        """() => new Promise((ok, fail) => {
            const open = indexedDB.open("rkh-uploads");
            open.onerror = () => fail(open.error);
            open.onsuccess = () => {
                const get = open.result.transaction("uploads").objectStore("uploads").getAll();
                get.onsuccess = () => ok(get.result.map(({key, path, size, url, uploadId}) =>
                    ({key, path, size, url, uploadId})));
                get.onerror = () => fail(get.error);
            };
        })"""
    )


def test_cut_off_upload_resumes_from_the_servers_offset_after_a_reload(
    page: Page, context: BrowserContext, live_server, uploader, event, tmp_path, server_log
):
    order = services.create_order(actor=uploader, event=event, customer_name="Cut off")
    path, data = big_file(tmp_path, "panorama.tif", 8)
    open_order_page(page, order)
    gate = hold_chunks(page, at_or_after=3 * MB)  # the 4th chunk never arrives

    page.locator("#file-input").set_input_files(path)
    state = page.get_by_test_id("upload-state")
    expect(state).to_contain_text("connection lost")
    wait_until(page, lambda: Upload.objects.filter(offset=3 * MB).exists())
    upload = Upload.objects.get()
    assert [offset for _, offset in server_log["chunks"]] == [0, MB, 2 * MB]
    # The queue in this browser has the file and where it goes.
    [record] = kept_records(page)
    assert (record["path"], record["size"]) == ("panorama.tif", len(data))
    assert record["url"].endswith(f"/uploads/{upload.pk}/")

    # The connection goes, the page is reloaded: the offline page, not the browser's error.
    context.set_offline(True)
    expect(state).to_have_text("Waiting for the connection (37% sent)")
    expect(page.get_by_test_id("upload-note")).to_contain_text(
        "You are offline. 1 file waits and will be sent when the connection is back, also if "
        "this page is reloaded."
    )
    page.reload()
    expect(page.get_by_test_id("offline-page")).to_be_visible()

    # Back: the offline page loads the order page by itself, which finds the file in this
    # browser and goes on from the server's offset.
    gate["open"] = True
    context.set_offline(False)
    expect(page.get_by_role("heading", name=re.compile(order.order_ref))).to_be_visible()
    expect(state).to_have_text(CHECKING, timeout=30_000)

    # On the server: each MB arrived once, in order, into the one upload made at the start.
    assert server_log["chunks"] == [(str(upload.pk), i * MB) for i in range(8)]
    assert server_log["opened"] == [(str(upload.pk), True)]
    assert set(gate["cut"]) == {3 * MB}  # the browser tried again, nothing got through
    image = Image.objects.get(order=order)
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert image.file_size == len(data)
    # Done: nothing is kept in the browser any more.
    wait_until(page, lambda: kept_records(page) == [])


def test_files_queued_offline_are_sent_when_back_also_after_a_reload(
    page: Page, context: BrowserContext, live_server, uploader, event, server_log
):
    order = services.create_order(actor=uploader, event=event, customer_name="Offline")
    open_order_page(page, order)
    chosen = photos()[:3]

    context.set_offline(True)
    page.locator("#file-input").set_input_files(chosen)
    items = page.get_by_test_id("upload-item")
    expect(items).to_have_count(3)
    for i in range(3):
        expect(items.nth(i).get_by_test_id("upload-state")).to_have_text(WAITING)
    expect(page.get_by_test_id("batch-text")).to_have_text(
        "0 of 3 files uploaded · 3 waiting for the connection"
    )
    # The same files again: already queued, not twice.
    page.locator("#file-input").set_input_files(chosen[:2])
    expect(page.locator("#upload-announce")).to_have_text("Those files are already in the queue.")
    expect(items).to_have_count(3)
    wait_until(page, lambda: len(kept_records(page)) == 3)
    assert not Upload.objects.exists()
    assert server_log["opened"] == []

    # Reloaded before any upload was made (still offline): the offline page.
    page.reload()
    expect(page.get_by_test_id("offline-page")).to_be_visible()
    context.set_offline(False)
    expect(page.get_by_role("heading", name=re.compile(order.order_ref))).to_be_visible()
    expect(items).to_have_count(3)
    for i in range(3):
        expect(items.nth(i).get_by_test_id("upload-state")).to_have_text(CHECKING)
    expect(page.get_by_test_id("batch-text")).to_have_text("3 of 3 files uploaded")
    names = Image.objects.filter(order=order).values_list("original_filename", flat=True)
    assert sorted(names) == sorted(p.name for p in chosen)
    assert len(server_log["opened"]) == 3
    wait_until(page, lambda: kept_records(page) == [])

    # And without a reload: offline, a file is queued, back online, it is sent.
    context.set_offline(True)
    page.locator("#file-input").set_input_files(photos()[3])
    expect(items.nth(3).get_by_test_id("upload-state")).to_have_text(WAITING)
    context.set_offline(False)
    expect(items.nth(3).get_by_test_id("upload-state")).to_have_text(CHECKING)
    assert Image.objects.filter(order=order).count() == 4


def test_an_upload_the_server_stopped_starts_again_from_zero(
    page: Page, live_server, uploader, event, tmp_path, server_log
):
    order = services.create_order(actor=uploader, event=event, customer_name="Expired")
    path, data = big_file(tmp_path, "expired.tif", 4)
    open_order_page(page, order)
    gate = hold_chunks(page, at_or_after=2 * MB)
    page.locator("#file-input").set_input_files(path)
    wait_until(page, lambda: Upload.objects.filter(offset=2 * MB).exists())
    first = Upload.objects.get()
    uploads.abort(first)  # what the hourly stale-upload task does

    gate["open"] = True
    expect(page.get_by_test_id("upload-state")).to_have_text(CHECKING, timeout=30_000)
    second = Upload.objects.exclude(pk=first.pk).get()
    assert server_log["opened"] == [(str(first.pk), True), (str(second.pk), True)]
    assert server_log["chunks"] == [(str(first.pk), 0), (str(first.pk), MB)] + [
        (str(second.pk), i * MB) for i in range(4)
    ]
    image = Image.objects.get(order=order)
    assert image.sha256 == hashlib.sha256(data).hexdigest()


def test_two_tabs_of_one_order_never_send_the_same_file(
    page: Page, context: BrowserContext, live_server, uploader, event, tmp_path, server_log
):
    order = services.create_order(actor=uploader, event=event, customer_name="Two tabs")
    path, data = big_file(tmp_path, "shared.tif", 4)
    open_order_page(page, order)
    gate = hold_chunks(page, at_or_after=2 * MB)
    page.locator("#file-input").set_input_files(path)
    wait_until(page, lambda: Upload.objects.filter(offset=2 * MB).exists())

    # A second tab on the same order finds the file in the shared queue, sees the first tab
    # sending it and leaves it alone.
    other = context.new_page()
    other.goto(f"/orders/{order.order_ref}/")
    other_state = other.get_by_test_id("upload-state")
    expect(other_state).to_have_text("Uploading in another tab of this order")

    gate["open"] = True
    expect(page.get_by_test_id("upload-state")).to_have_text(CHECKING, timeout=30_000)
    # The second tab learns the outcome once the first is done.
    expect(other_state).to_have_text(CHECKING)
    upload = Upload.objects.get()
    assert server_log["chunks"] == [(str(upload.pk), i * MB) for i in range(4)]
    assert len(server_log["opened"]) == 1
    assert Image.objects.get(order=order).sha256 == hashlib.sha256(data).hexdigest()
    other.close()


def test_a_file_the_browser_lost_can_be_chosen_again_or_discarded(
    page: Page, live_server, uploader, event, tmp_path, server_log
):
    order = services.create_order(actor=uploader, event=event, customer_name="Lost")
    keep_path, keep_data = big_file(tmp_path, "keep.tif", 3, seed=b"keep")
    drop_path, _ = big_file(tmp_path, "drop.tif", 3, seed=b"drop")
    open_order_page(page, order)
    gate = hold_chunks(page, at_or_after=MB)
    page.locator("#file-input").set_input_files([keep_path, drop_path])
    wait_until(page, lambda: Upload.objects.filter(offset=MB).count() == 2)
    kept = Upload.objects.get(filename="keep.tif")
    dropped = Upload.objects.get(filename="drop.tif")

    # The browser loses the files' bytes (storage cleared, evicted) but keeps the records.
    page.evaluate(
        """() => new Promise((ok, fail) => {
            const open = indexedDB.open("rkh-uploads");
            open.onsuccess = () => {
                const tx = open.result.transaction("blobs", "readwrite");
                tx.objectStore("blobs").clear();
                tx.oncomplete = () => ok();
                tx.onerror = () => fail(tx.error);
            };
        })"""
    )
    gate["open"] = True
    page.reload()
    rows = page.get_by_test_id("upload-item")
    keep_row, drop_row = rows.filter(has_text="keep.tif"), rows.filter(has_text="drop.tif")
    expect(keep_row.get_by_test_id("upload-state")).to_have_text(
        "This browser no longer has the file: choose it again to go on, or discard it."
    )
    expect(page.get_by_test_id("batch-text")).to_have_text(
        "0 of 2 files uploaded · 2 to choose again"
    )

    # Another file is not taken for it.
    keep_row.locator("input[type=file]").set_input_files(photos()[0])
    expect(keep_row.get_by_test_id("upload-state")).to_contain_text("is not the same file")
    # The same file: it goes on from the server's offset.
    keep_row.locator("input[type=file]").set_input_files(keep_path)
    expect(keep_row.get_by_test_id("upload-state")).to_have_text(CHECKING, timeout=30_000)
    assert [o for pk, o in server_log["chunks"] if pk == str(kept.pk)] == [0, MB, 2 * MB]

    # Discarded: gone from the list and the browser, stopped on the server (so the order does
    # not wait for it).
    drop_row.get_by_role("button", name="Discard").click()
    expect(drop_row).to_have_count(0)
    wait_until(page, lambda: Upload.objects.get(pk=dropped.pk).status == Upload.Status.ABORTED)
    wait_until(page, lambda: kept_records(page) == [])
    assert Image.objects.get(order=order).sha256 == hashlib.sha256(keep_data).hexdigest()


def test_no_room_to_keep_files_is_said_and_the_upload_goes_on(
    page: Page, live_server, uploader, event
):
    order = services.create_order(actor=uploader, event=event, customer_name="Full disk")
    # The browser's storage is full: storing a file fails as Chromium fails it.
    page.add_init_script(
        """(() => {
            const put = IDBObjectStore.prototype.put;
            IDBObjectStore.prototype.put = function (...args) {
                if (this.name === "blobs") {
                    throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
                }
                return put.apply(this, args);
            };
        })()"""
    )
    page.goto(f"/orders/{order.order_ref}/")
    page.locator("#file-input").set_input_files(photos()[:2])
    expect(page.get_by_test_id("upload-note")).to_contain_text(
        "This browser has no room left to keep the queued files"
    )
    states = page.get_by_test_id("upload-state")
    expect(states.filter(has_text=CHECKING)).to_have_count(2)
    assert Image.objects.filter(order=order).count() == 2
    assert kept_records(page) == []
