"""An order from "AI done" to "completed in the PMR", drained in this process against the
simulator: rows in order, each image written once, the order completed and pushed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ai_processing import services as ai_services
from orders.models import Image, Order
from pmr import drain
from pmr.models import OrderDelivery, OutboxEntry
from pmr.simulator import PMRSimulator
from pmr.timeline import DELIVERED_EVENT
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
)
from tests.timeline_checks import assert_timeline_reads_well

pytestmark = pytest.mark.django_db
K = OutboxEntry.Kind


@pytest.fixture
def pmr(settings) -> Iterator[PMRSimulator]:
    import redis

    redis.Redis.from_url(settings.REDIS_URL).delete("rkh:pmr:breaker:pmr")
    with PMRSimulator(port=0) as sim:
        settings.PMR_BASE_URL = sim.base_url
        settings.PMR_RETRY_BASE_SECONDS = 0.01
        yield sim


def test_an_order_is_delivered_once_and_completed(pmr, ingested_order, event):
    pmr.add_events([{"event_id": event.event_id, "name": "Test", "status": "open"}], [])
    order = ingested_order("colour-correct-only", n=3)
    for image in order.images.all():
        ai_services.process_image(image.pk)
    order.refresh_from_db()
    assert order.ai_processed
    kinds = list(OutboxEntry.objects.filter(order=order).values_list("kind", flat=True))
    # processing pushed (with the metadata first), then the delivery.
    assert kinds[:2] == [K.ORDER_PUT, K.ORDER_STATUS]
    # One upload per file: each image's original, and its edited file when the preset made one.
    edited = order.images.exclude(processed="").count()
    assert kinds[2:] == [K.ORDER_PUT, *[K.IMAGE_PUT] * (3 + edited), K.ORDER_FINISH]

    result = drain.drain_order(order.pk)
    assert not result.blocked, OutboxEntry.objects.filter(order=order).values("kind", "last_error")
    # Finishing completed the order, whose "completed" push was drained in the same run.
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert order.pmr_synced
    assert not OutboxEntry.objects.filter(order=order).exclude(state="done").exists()
    assert set(order.images.values_list("status", flat=True)) == {Image.Status.SYNCED}
    state = pmr.state()
    (remote,) = [o for o in state["orders"] if o["order_ref"] == order.order_ref]
    assert remote["status"] == "completed"
    assert len(remote["images"]) == 3
    assert [img["writes"] for img in remote["images"]] == [1, 1, 1]
    assert [f["writes"] for f in remote["files"]] == [1] * (3 + edited)
    originals = {f["image_ref"]: f["sha256"] for f in remote["files"] if f["variant"] == "original"}
    assert originals == {f"img-{i.pk}": i.sha256 for i in order.images.all()}
    assert OrderDelivery.objects.get(order=order).pmr_status == "completed"

    # What was sent keeps no plain copy of the customer's data (the order has it, encrypted).
    sent = OutboxEntry.objects.filter(order=order, kind=K.ORDER_PUT)
    for row in sent:
        assert row.payload["event_id"] == event.event_id
        assert [row.payload[f] for f in ("customer_name", "customer_email", "notes")] == [None] * 3
        assert order.customer_name not in str(row.response)
    assert remote["customer_name"] == order.customer_name

    # Draining again sends nothing; the same rows re-sent would not write twice either.
    assert drain.drain_order(order.pk).sent == 0
    # The whole journey reads as sentences, each kind registered (the rows, not the code).
    kinds = assert_timeline_reads_well(order)
    assert {"order.created", "order.ai_completed", DELIVERED_EVENT} <= kinds
