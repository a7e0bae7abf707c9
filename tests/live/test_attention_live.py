"""The dashboard's "Needs attention" panel follows live: over ws/dashboard/, a provider's
circuit opening (no timeline entry: the breaker rings the dashboards) and an image going to
review (a timeline entry) each bring a new snapshot, without waiting for a heartbeat."""

from __future__ import annotations

import pytest
import redis
from channels.db import database_sync_to_async

from ai_processing.providers.registry import chain_from_settings
from orders import services
from orders.models import Image, Order
from tests.asyncio_helpers import run_async
from tests.live.conftest import communicator, hang_up, receive, ws_headers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def clean_circuits(settings):
    def clean() -> None:
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = [*client.scan_iter("rkh:ai:breaker*"), *client.scan_iter("rkh:pmr:breaker*")]
        if keys:
            client.delete(*keys)

    clean()
    yield
    clean()


def _keys(snapshot) -> set[str]:
    return {item["key"] for item in snapshot["attention"]["items"]}


def _open_runware(failures: int) -> None:
    breaker = chain_from_settings().breaker
    for _ in range(failures):
        breaker.record_failure("runware")


def _to_review(image: Image) -> None:
    services.change_image_status(image, Image.Status.NEEDS_REVIEW, reason="no provider")


def test_the_panel_follows_outages_and_reviews_live(settings, users, make_order):
    settings.LIVE_HEARTBEAT_S = 60  # only doorbells deliver here
    settings.AI_PROVIDERS = ["runware", "gemini", "local"]
    order = make_order(users["User"])
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PROCESSING)
    image = Image.objects.create(
        order=order,
        original=f"originals/{order.pk}/a.jpg",
        original_filename="a.jpg",
        status=Image.Status.INGESTED,
    )
    redis.Redis.from_url(settings.REDIS_URL).delete("rkh:pmr:breaker:pmr")

    headers = ws_headers(users["Manager"])

    async def scenario():
        comm = communicator("/ws/dashboard/", headers)
        assert (await comm.connect(timeout=5))[0]
        first = await receive(comm)
        await database_sync_to_async(_open_runware)(settings.AI_BREAKER_FAILURES)
        outage = await receive(comm, timeout=5)
        await database_sync_to_async(_to_review)(image)
        review = await receive(comm, timeout=5)
        await hang_up(comm)
        return first, outage, review

    first, outage, review = run_async(scenario(), timeout=30)
    assert not _keys(first) & {"ai.down.runware", "orders.review"}
    assert "ai.down.runware" in _keys(outage)
    assert {"ai.down.runware", "orders.review"} <= _keys(review)
    (row,) = [row for row in review["orders"] if row["ref"] == order.order_ref]
    assert row["attention"] == "1 image waits for review."
    assert review["attention"]["orders"] == 1
