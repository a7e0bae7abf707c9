"""When does an order move on from pending? When nothing waits for upload or ingest."""

from __future__ import annotations

import datetime as dt

from ai_processing.stage import AiStage
from orders import uploads
from orders.models import Order, Upload
from tests.orders.intake import photos


def _status(order: Order) -> str:
    return Order.objects.get(pk=order.pk).status


def test_order_moves_to_processing_when_the_last_image_is_ingested(order, add, ingest):
    first = add(order, photos.jpeg(photos.photo("coffee.png")), "a.jpg")
    second = add(order, photos.jpeg(photos.photo("chelsea.png")), "b.jpg")
    assert _status(order) == Order.Status.PENDING
    ingest(first)
    assert _status(order) == Order.Status.PENDING  # b.jpg still waits
    ingest(second)
    assert _status(order) == Order.Status.PROCESSING


def test_an_open_upload_keeps_the_order_pending_until_it_is_stopped(order, add, ingest, manager):
    image = add(order, photos.jpeg(), "a.jpg")
    pending = uploads.create_upload(order, actor=manager, filename="big.jpg", size=10_000)
    ingest(image)
    assert _status(order) == Order.Status.PENDING  # big.jpg is still arriving

    Upload.objects.filter(pk=pending.pk).update(
        updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=7)
    )
    assert uploads.abort_stale_uploads() == 1  # default: UPLOAD_STALE_HOURS=6
    assert Upload.objects.get(pk=pending.pk).status == Upload.Status.ABORTED
    assert _status(order) == Order.Status.PROCESSING


def test_a_discarded_upload_lets_the_order_move_on_at_once(order, add, ingest, manager):
    """The page's "Discard" (a file the browser no longer has) must not leave the order
    waiting hours for the stale-upload task."""
    image = add(order, photos.jpeg(), "a.jpg")
    pending = uploads.create_upload(order, actor=manager, filename="big.jpg", size=10_000)
    ingest(image)
    assert _status(order) == Order.Status.PENDING
    uploads.discard_upload(pending)
    assert Upload.objects.get(pk=pending.pk).status == Upload.Status.ABORTED
    assert _status(order) == Order.Status.PROCESSING


def test_a_recent_upload_is_not_stopped(order, manager):
    recent = uploads.create_upload(order, actor=manager, filename="big.jpg", size=10_000)
    assert uploads.abort_stale_uploads() == 0
    assert Upload.objects.get(pk=recent.pk).status == Upload.Status.OPEN


class RecordingAiStage(AiStage):
    """The real AI stage, noting each image the pipeline hands it (and the order's status)."""

    started: list[tuple[int, str]] = []

    def start(self, image) -> None:
        RecordingAiStage.started.append((image.pk, image.order.status))
        super().start(image)


def test_every_ingested_image_is_announced_for_ai_as_soon_as_it_passes(
    order, add, ingest, settings
):
    """The pipeline hands each image to the AI stage when it passes ingest, while the order is
    still pending (so AI work overlaps the rest of the ingest) and for a late file of an order
    already processing. A rejected file is never handed over."""
    settings.PIPELINE_STAGES = {
        **settings.PIPELINE_STAGES,
        "ai": f"{__name__}.RecordingAiStage",
    }
    announced = RecordingAiStage.started
    announced.clear()
    first = add(order, photos.jpeg(photos.photo("coffee.png")), "a.jpg")
    second = add(order, photos.jpeg(photos.photo("astronaut.png")), "b.jpg")
    broken = add(order, b"not an image at all", "broken.jpg")
    ingest(first)
    assert announced == [(first.pk, Order.Status.PENDING)]
    assert _status(order) == Order.Status.PENDING  # b.jpg still waits for ingest
    ingest(broken)
    ingest(second)
    assert _status(order) == Order.Status.PROCESSING
    assert announced == [(first.pk, Order.Status.PENDING), (second.pk, Order.Status.PENDING)]
    late = add(order, photos.jpeg(photos.photo("chelsea.png")), "late.jpg")
    ingest(late)
    assert announced[-1] == (late.pk, Order.Status.PROCESSING)
    assert len(announced) == 3
