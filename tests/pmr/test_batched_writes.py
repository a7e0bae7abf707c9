"""The delivery's writes come in batches, not one per file (issue 14, docs/benchmarks.md
"PMR upload"): the outbox rows of a delivery in one INSERT, the images a batch of answers
completes moved to synced together, the calls' durations counted in one round trip. What
each batch writes is what the one-by-one writes did: rows, audit entries, counters, timeline.
"""

from __future__ import annotations

import pytest
import redis
from auditlog.models import LogEntry
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orders import timeline
from orders.models import Image, Order, OrderEvent
from pmr import drain, outbox
from pmr.models import OutboxEntry
from utilities import durations

from .conftest import remote_order, rows

K = OutboxEntry.Kind
pytestmark = pytest.mark.django_db


def test_a_delivery_is_written_in_one_insert_with_an_audit_entry_per_row(ai_done_order):
    order = ai_done_order(3, deliver=False)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        assert outbox.deliver(order) == 6  # original and edited file of each image
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "pmr_outboxentry"')]
    assert len(inserts) == 3  # the metadata, every file at once, the finishing row

    written = list(rows(order))
    kinds = [row.kind for row in written]
    assert kinds == [K.ORDER_PUT, *[K.IMAGE_PUT] * 6, K.ORDER_FINISH]  # ids in drain order
    assert [row.payload["variant"] for row in written[1:-1]] == ["original", "edited"] * 3
    assert len({row.idempotency_key for row in written}) == len(written)
    for row in written:
        (created,) = LogEntry.objects.get_for_object(row).filter(action=LogEntry.Action.CREATE)
        assert created.changes_dict["kind"] == ["None", row.kind]

    with transaction.atomic():  # delivered again: nothing new to send
        assert outbox.deliver(order) == 0


def test_a_drained_batch_moves_its_images_together_and_counts_every_call(
    sim, pmr_event, ai_done_order, settings
):
    redis.Redis.from_url(settings.REDIS_URL).delete(durations.key("pmr_call"))
    settings.PMR_UPLOAD_CONCURRENCY = 4
    order = ai_done_order(5)

    result = drain.drain_order(order.pk)

    assert not result.blocked
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert order.synced_images == order.total_images == 5  # the counters, recounted
    assert set(order.images.values_list("status", flat=True)) == {Image.Status.SYNCED}
    moves = OrderEvent.objects.filter(
        order=order, kind__in=[OrderEvent.Kind.IMAGE_STATUS, OrderEvent.Kind.IMAGES_STATUS]
    )
    moved = []
    for entry in moves:
        assert entry.payload["to"] == Image.Status.SYNCED
        moved += entry.payload.get("images") or [entry.payload["image"]]
        assert timeline.sentence(entry.kind, entry.payload).endswith("delivered to the PMR")
    assert sorted(moved) == sorted(order.images.values_list("pk", flat=True))  # each once
    for image in order.images.all():
        (log,) = LogEntry.objects.get_for_object(image).filter(action=LogEntry.Action.UPDATE)
        assert log.changes_dict["status"] == ["processed", "synced"]

    counted = {(h.labels["kind"], h.labels["outcome"]): h.count for h in durations.read("pmr_call")}
    assert counted[(K.IMAGE_PUT, "ok")] == 10  # every upload, counted from the drain's thread
    assert counted[(K.ORDER_PUT, "ok")] == 1


def test_files_of_an_order_without_prints_are_described_without_a_query_each(
    sim, pmr_event, ai_done_order, settings
):
    """Issue 14: a digital-only file states its pixels and the largest print it meets
    (issue 16). The drain asked the image for its ordered sizes and read the print sizes
    for every file (three queries each, most of its thread's time at 400 files); now an
    order with no print ordered reads the sizes once per run, whatever its size."""
    settings.PRINT_MIN_DPI = 5  # 48x32 pixels: the largest print is 5x7

    def print_queries(n: int) -> tuple[int, dict]:
        order = ai_done_order(n)
        with CaptureQueriesContext(connection) as queries:
            assert not drain.drain_order(order.pk).blocked
        asked = [q for q in queries if "print" in q["sql"].split(" WHERE ")[0].lower()]
        return len(asked), remote_order(sim, order)

    few, _ = print_queries(2)
    many, remote = print_queries(6)
    assert many == few
    assert len(remote["files"]) == 12  # the original and the edited file of each image
    described = [image["metadata"].get("digital") for image in remote["images"]]
    assert len(described) == 6  # what the PMR keeps of each image: its original's metadata
    assert all(facts and facts["largest_print"] == "5x7" for facts in described)


def test_rows_settled_while_a_run_is_read_are_left_out(ai_done_order):
    """The run's ids are read first and its rows window by window: a row a person skipped
    (or one deleted) in between is not sent."""
    order = ai_done_order(3)
    uploads = list(rows(order, kind=K.IMAGE_PUT))
    ids = drain._due_uploads(order.pk, uploads[0])
    assert ids == [row.pk for row in uploads]
    OutboxEntry.objects.filter(pk=ids[1]).update(state=OutboxEntry.State.SKIPPED)
    OutboxEntry.objects.filter(pk=ids[2]).delete()

    loaded = drain._load_rows(ids)

    assert [row.pk for row in loaded] == [ids[0], *ids[3:]]
    assert loaded[0].image.pk == uploads[0].image_id  # with its image and order
