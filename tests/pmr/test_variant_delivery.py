"""Delivery of every file of an image (contract 1.6): the untouched original, the edited
file, and a print rendition per ordered print size, each its own outbox row and PMR file,
each written exactly once, also when a worker dies mid-delivery.

``orders.prints.print_renditions`` is replaced here by renditions of known size and DPI (the
print sizes and crops are another part of the project); their ``render()`` makes a real JPEG
and counts how often it was called, so the tests see prints rendered when sent, not before.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections import Counter

import pytest
from django.db import transaction
from PIL import Image as PILImage

import orders.prints
from ai_processing import services as ai_services
from orders import timeline
from orders.models import Image, Order, OrderEvent
from pmr import drain, outbox, variants
from pmr.box import delivery_box
from pmr.models import OutboxEntry
from pmr.services import delivery_summary
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    different_photos,
    ingested_order_fixture,
)
from tests.workers import celery_worker_process

from .conftest import remote_order, rows
from .test_worker_drills import WAIT_SECONDS, wait_for, worker_env

K, State = OutboxEntry.Kind, OutboxEntry.State


def fake_jpeg(size: tuple[int, int], shade: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (shade, 255 - shade, 90)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class Prints:
    """Stands in for ``print_renditions``: a 4x6 and an 8x10 of every image (the test JPEGs
    are 48x32 pixels: 8 DPI on 6x4 inches, 4 DPI on 10x8)."""

    SIZES = {"4x6": (48, 32, 8), "8x10": (40, 32, 4)}

    def __init__(self) -> None:
        self.rendered: Counter = Counter()
        self.shade = 10  # change it to move every crop (new bytes)
        self.active = self.peak = 0  # renders running at once, and the most seen
        self.lock = threading.Lock()
        self.pause = 0.0  # seconds each render takes

    def __call__(self, image: Image) -> list[orders.prints.PrintRendition]:
        return [
            orders.prints.PrintRendition(code, w, h, dpi, self._render(image.pk, code, (w, h)))
            for code, (w, h, dpi) in self.SIZES.items()
        ]

    def _render(self, image_id: int, code: str, size: tuple[int, int]):
        def render() -> bytes:
            with self.lock:
                self.rendered[(image_id, code)] += 1
                self.active += 1
                self.peak = max(self.peak, self.active)
            time.sleep(self.pause)
            with self.lock:
                self.active -= 1
            return fake_jpeg(size, (self.shade + image_id) % 200)

        return render


@pytest.fixture
def prints(monkeypatch) -> Prints:
    fake = Prints()
    monkeypatch.setattr(orders.prints, "print_renditions", fake)
    # The fake stands in for ordered print sizes: the cheap "any prints ordered?" gate the
    # delivery asks first must say yes.
    monkeypatch.setattr(orders.prints, "order_has_prints", lambda order_id: True)
    return fake


def files_of(remote: dict) -> dict[tuple[str, str, str | None], dict]:
    return {(f["image_ref"], f["variant"], f["print_size"]): f for f in remote["files"]}


@pytest.mark.django_db
def test_original_edited_and_prints_are_delivered_once_with_their_dpi(
    sim, pmr_event, ai_done_order, prints
):
    order = ai_done_order(2)
    uploads = rows(order, kind=K.IMAGE_PUT)
    assert [r.payload["variant"] for r in uploads] == ["original", "edited", "print", "print"] * 2
    assert rows(order).last().kind == K.ORDER_FINISH  # finishing after every file
    assert prints.rendered == {}  # nothing rendered before it is sent

    result = drain.drain_order(order.pk)

    assert not result.blocked
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert set(order.images.values_list("status", flat=True)) == {Image.Status.SYNCED}
    remote = remote_order(sim, order)
    assert remote["status"] == "completed"
    assert remote["expected_image_count"] == len(remote["images"]) == 2
    files = files_of(remote)
    assert len(files) == 8
    assert {f["writes"] for f in files.values()} == {1}
    assert set(prints.rendered.values()) == {1}
    for image in order.images.all():
        ref = f"img-{image.pk}"
        original = files[(ref, "original", None)]
        assert original["sha256"] == image.sha256  # the untouched bytes
        assert original["filename"] == image.original_filename
        with image.processed.open("rb") as handle:
            edited_sha = hashlib.sha256(handle.read()).hexdigest()
        assert files[(ref, "edited", None)]["sha256"] == edited_sha
        # The whole file at the largest print ordered (8x10 on 48x32 pixels: 4 DPI).
        assert original["dpi"] == files[(ref, "edited", None)]["dpi"] == 4
        assert files[(ref, "print", "4x6")]["dpi"] == 8
        assert files[(ref, "print", "8x10")]["dpi"] == 4
        assert files[(ref, "print", "8x10")]["filename"].endswith("-print-8x10.jpg")
        assert image.pmr_url.endswith(f"/images/{ref}")  # the image's URL: its original

    event = OrderEvent.objects.get(order=order, kind=drain.DELIVERED_EVENT)
    assert event.payload["files"] == {"original": 2, "edited": 2, "print": 4}
    assert timeline.sentence(event.kind, event.payload) == (
        "Sent to the PMR: 2 images delivered (2 originals, 2 edited files and 4 prints)"
    )
    assert delivery_box(order)["text"] == (
        "Delivered: 2 images in the PMR (2 originals, 2 edited files and 4 prints)."
    )
    assert drain.drain_order(order.pk).sent == 0


@pytest.mark.django_db
def test_files_confirmed_but_not_recorded_are_sent_again_and_written_once(
    sim, pmr_event, ai_done_order, prints, monkeypatch, settings
):
    """The worker dies between the PMR's answers and their commit: every file goes again
    (same key, same bytes: replayed), nothing is written twice; a print whose crop moved in
    between is new bytes under a new key: written again, not refused as a conflict."""
    settings.PMR_UPLOAD_CONCURRENCY = 1
    order = ai_done_order(2)
    record = drain._record_successes

    def dies(order_id, answers):
        if any(row.kind == K.IMAGE_PUT for row, _ in answers):
            raise SystemExit("killed after the PMR answered")
        return record(order_id, answers)

    monkeypatch.setattr(drain, "_record_successes", dies)
    with pytest.raises(SystemExit):
        drain.drain_order(order.pk)
    for thread in threading.enumerate():  # uploads the dead drain had started finish
        if thread.name.startswith("pmr-upload-"):
            thread.join(10)
    monkeypatch.setattr(drain, "_record_successes", record)
    sent_before = {k: f["puts"] for k, f in files_of(remote_order(sim, order)).items()}
    assert sent_before, "nothing reached the PMR before the kill: nothing was drilled"
    assert rows(order, kind=K.IMAGE_PUT, state=State.PENDING).count() == 8
    first = order.images.order_by("pk").first()
    prints.shade = 120  # a person moved the crops: every print is new bytes now

    assert not drain.drain_order(order.pk).blocked

    remote = remote_order(sim, order)
    assert remote["status"] == "completed"
    files = files_of(remote)
    assert len(files) == 8
    for key, stored in files.items():
        moved = key[1] == "print" and key in sent_before
        assert stored["writes"] == (2 if moved else 1), key
        assert stored["puts"] == sent_before.get(key, 0) + 1, key
    assert files[(f"img-{first.pk}", "original", None)]["sha256"] == first.sha256
    assert not rows(order).exclude(state=State.DONE).exists()


@pytest.mark.django_db
def test_a_row_from_before_variants_still_sends_one_file_without_a_variant(
    sim, pmr_event, ai_done_order
):
    order = ai_done_order(1, deliver=False)
    image = order.images.get()
    with transaction.atomic():
        outbox.put_order(order)
        outbox._add(order, K.IMAGE_PUT, {"image_ref": f"img-{image.pk}"}, image=image)
        outbox._add(order, K.ORDER_FINISH, {})
        assert outbox.deliver(order) == 0  # the image has its (legacy) row: nothing added

    assert not drain.drain_order(order.pk).blocked
    remote = remote_order(sim, order)
    (stored,) = remote["files"]
    with image.processed.open("rb") as handle:  # the 1.5 meaning: the edited file
        assert stored["sha256"] == hashlib.sha256(handle.read()).hexdigest()
    assert (stored["variant"], stored["dpi"]) == ("original", None)
    assert remote["status"] == "completed"
    assert delivery_summary(order)["files_done_by_variant"]["original"] == 1


@pytest.mark.django_db
def test_prints_that_cannot_be_worked_out_never_stop_the_delivery(
    sim, pmr_event, ai_done_order, prints, monkeypatch
):
    order = ai_done_order(1)  # delivered with its two prints queued
    uploads = rows(order, kind=K.IMAGE_PUT)
    assert [r.payload["variant"] for r in uploads] == ["original", "edited", "print", "print"]

    def unreadable(image):
        raise OSError("the stored file cannot be read")

    monkeypatch.setattr(orders.prints, "print_renditions", unreadable)
    assert drain.drain_order(order.pk).blocked  # the prints are refused, for a person
    # One print row or both, as the parallel uploads meet the first refusal: only prints.
    refused = {
        (row.payload["variant"], row.last_error["code"]) for row in rows(order, state=State.FAILED)
    }
    assert refused == {("print", "print_size_gone")}
    files = files_of(remote_order(sim, order))
    assert [k[1] for k in files] == ["original", "edited"]  # sent, with no DPI to state
    assert {f["dpi"] for f in files.values()} == {None}

    other = ai_done_order(1, deliver=False)  # a delivery written now: no print rows at all
    with transaction.atomic():
        assert outbox.deliver(other) == 2


@pytest.mark.django_db
def test_renders_at_once_are_bounded_while_other_files_upload(
    sim, pmr_event, ai_done_order, prints, settings
):
    settings.PMR_UPLOAD_CONCURRENCY = 6
    settings.PMR_RENDER_CONCURRENCY = 1
    prints.pause = 0.1
    order = ai_done_order(3)
    assert not drain.drain_order(order.pk).blocked
    assert sum(prints.rendered.values()) == 6
    assert prints.peak == 1
    files = files_of(remote_order(sim, order))
    assert len(files) == 12
    assert {f["writes"] for f in files.values()} == {1}


def test_whole_file_dpi_and_sentences():
    r = orders.prints.PrintRendition
    renditions = [r("4x6", 1800, 1200, 300, bytes), r("8x10", 2400, 3000, 300, bytes)]
    # A 6000x4000 original: 1000 DPI on 6x4 inches, min(6000/10, 4000/8) = 500 on 8x10.
    assert variants.whole_file_dpi(6000, 4000, renditions) == 500
    assert variants.whole_file_dpi(4000, 6000, renditions) == 500  # turned: the same
    assert variants.whole_file_dpi(6000, 4000, []) is None  # digital only: no print size
    assert variants.whole_file_dpi(None, 4000, renditions) is None
    assert variants.describe({"original": 40, "edited": 40, "print": 12}) == (
        "40 originals, 40 edited files and 12 prints"
    )
    assert variants.describe({"original": 1, "print": 1}) == "1 original and 1 print"
    assert variants.describe({}) == ""


# ---- a real worker ------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_edit_preset_order_delivers_original_and_edited_once_across_a_restart(
    sim, pmr_event, ingested_order, media_root, tmp_path
):
    """Real photos through the ingest and a colour-correcting preset, delivered by a Celery
    worker that is killed mid-delivery; the next one finishes. Every image arrives as its
    original (the uploaded bytes, by SHA-256) and its edited file, each written once."""
    n = 8
    sim.set_faults(latency_ms=250)
    env = {**worker_env(sim), "PMR_UPLOAD_CONCURRENCY": "2"}
    with celery_worker_process(
        "pmr", media_root=media_root, log_dir=tmp_path, env=env, log_name="first.log"
    ) as first:
        order = ingested_order("colour-correct-only", n=n)
        for image in order.images.all():
            ai_services.process_image(image.pk)  # the last one hands the order to the PMR
        order.refresh_from_db()
        assert order.ai_processed
        assert order.images.exclude(processed="").count() == n  # the preset edited each
        done = rows(order, kind=K.IMAGE_PUT, state=State.DONE)
        wait_for("files in flight", lambda: done.count() >= 3, first.log)
        first.kill()
    assert rows(order, kind=K.IMAGE_PUT, state=State.PENDING).exists(), "nothing was drilled"

    sim.set_faults(latency_ms=0)
    with celery_worker_process(
        "pmr", media_root=media_root, log_dir=tmp_path, env=env, purge=False, log_name="second.log"
    ) as second:
        from pmr import tasks

        tasks.drain_due.delay()  # the beat's sweep, now
        wait_for(
            "the order to complete after the restart",
            lambda: (
                Order.objects.get(pk=order.pk).status == Order.Status.COMPLETED
                and not rows(order).exclude(state=State.DONE).exists()
            ),
            second.log,
            seconds=WAIT_SECONDS * 2,
        )
    remote = remote_order(sim, order)
    assert remote["status"] == "completed"
    assert remote["expected_image_count"] == len(remote["images"]) == n
    files = files_of(remote)
    assert len(files) == 2 * n
    assert [f["writes"] for f in files.values()] == [1] * (2 * n)
    uploaded = {hashlib.sha256(data).hexdigest() for data in different_photos(n)}
    originals = {f["sha256"] for (_, variant, _), f in files.items() if variant == "original"}
    assert originals == uploaded  # byte for byte what the studio received
    for image in Image.objects.filter(order=order):
        assert image.status == Image.Status.SYNCED
        with image.processed.open("rb") as handle:
            edited = hashlib.sha256(handle.read()).hexdigest()
        assert files[(f"img-{image.pk}", "edited", None)]["sha256"] == edited
        assert edited != image.sha256


@pytest.mark.django_db
def test_a_digital_only_image_states_its_pixels_and_largest_print_not_a_dpi(
    sim, pmr_event, ai_done_order, settings
):
    """Issue 16: no print ordered, no DPI (a DPI needs inches), but the PMR is told the
    file's pixels and the largest print it meets at PRINT_MIN_DPI."""
    settings.PRINT_MIN_DPI = 5  # 48x32 pixels: 8 DPI at 4x6, 6 at 5x7, 4 at 8x10
    order = ai_done_order(1)
    assert not drain.drain_order(order.pk).blocked
    remote = remote_order(sim, order)
    files = files_of(remote)
    assert [k[1] for k in files] == ["original", "edited"]
    assert {f["dpi"] for f in files.values()} == {None}
    (stored,) = remote["images"]  # the original's record, with its metadata
    assert stored["metadata"]["digital"] == {
        "pixels": [48, 32],
        "megapixels": 0.0,
        "largest_print": "5x7",
        "largest_print_min_dpi": 5,
    }
