"""Coalescing: many progress events make few messages, and the final state is right."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from channels.layers import get_channel_layer
from django.db import connection

from orders import live, services
from orders.models import Image, Order
from tests.asyncio_helpers import run_async
from tests.live.conftest import collect_events, communicator, hang_up, receive, ws_headers

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = 240


def make_images(order: Order, n: int) -> list[int]:
    """``n`` uploaded images (rows only: these tests are about their status events)."""
    Image.objects.bulk_create(
        Image(order=order, original=f"originals/{order.pk}/{i}.jpg", original_filename=f"{i}.jpg")
        for i in range(n)
    )
    services.refresh_image_counters(order.pk)
    return list(Image.objects.filter(order=order).order_by("pk").values_list("pk", flat=True))


def ingest_all(image_ids: list[int]) -> float:
    """Move every image to ``ingested`` as fast as the services go, each its own commit,
    as ingest workers do; returns how long it took. Runs in a thread of its own."""
    started = time.monotonic()
    try:
        for image in Image.objects.filter(pk__in=image_ids).order_by("pk"):
            services.change_image_status(image, Image.Status.INGESTED)
    finally:
        connection.close()
    return time.monotonic() - started


def test_a_burst_of_progress_becomes_few_messages_with_the_right_final_state(
    users, make_order, settings
):
    settings.LIVE_HEARTBEAT_S = 60  # only doorbells deliver here
    settings.LIVE_FLUSH_MS = 100
    order = make_order(users["Manager"])
    image_ids = make_images(order, IMAGES)
    after = Order.objects.get(pk=order.pk).last_event_seq
    last = after + IMAGES
    headers = ws_headers(users["Viewer"])

    async def scenario():
        comm = communicator(f"/ws/orders/{order.order_ref}/?after={after}", headers)
        assert (await comm.connect(timeout=5))[0]
        assert (await receive(comm))["events"] == []
        writer = asyncio.ensure_future(asyncio.to_thread(ingest_all, image_ids))
        seqs, messages = await collect_events(comm, last, timeout=15)
        duration = await writer
        await hang_up(comm)
        return seqs, messages, duration

    seqs, messages, duration = run_async(scenario(), timeout=60)
    # Nothing lost, nothing repeated, in order.
    assert seqs == list(range(after + 1, last + 1))
    # Bounded: at most one message per 100 ms (plus the edges), however many events; and
    # events that came within one interval travelled together.
    assert len(messages) <= duration / 0.1 + 3, (len(messages), duration)
    assert max(len(m["events"]) for m in messages) > 1
    # The final state is the database's.
    final = messages[-1]["order"]
    assert final["total"] == final["ingested"] == IMAGES
    assert final["waiting"] == IMAGES  # ingested, not yet processed
    assert final["last_seq"] == last
    assert messages[-1]["events"][-1]["payload"]["ingested_images"] == IMAGES


def test_publisher_sends_one_doorbell_per_order_for_a_burst_of_commits():
    """``live.publisher`` collapses what waits to be sent: the channel layer sees far fewer
    messages than commits, and the last one names the newest number."""
    order_id = 10**9  # no such order: only the doorbells matter here
    layer = get_channel_layer()

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add(live.order_group(order_id), channel)
        try:
            publish = threading.Thread(
                target=lambda: [live.publisher.publish(order_id, s) for s in range(1, 2001)]
            )
            publish.start()
            await asyncio.to_thread(publish.join)
            assert await asyncio.to_thread(live.publisher.flush, 10)
            seen = []
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), 0.5)
                except TimeoutError:
                    break
                seen.append(message["seq"])
            return seen
        finally:
            await layer.group_discard(live.order_group(order_id), channel)

    seen = run_async(scenario(), timeout=30)
    assert seen, "no doorbell at all"
    assert seen[-1] == 2000
    assert seen == sorted(seen)
    assert len(seen) < 200, len(seen)
