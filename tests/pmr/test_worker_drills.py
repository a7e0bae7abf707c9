"""Drills with a real Celery worker on queue ``pmr``: the PMR goes away in the middle of an
order and comes back (offline mode, the circuit, the drain rescheduling itself), and a worker
killed during uploads (the next one finishes the order). Every image is written once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from orders.models import Image, Order
from pmr import tasks
from pmr.models import OrderDelivery, OutboxEntry
from tests.workers import celery_worker_process

from .conftest import remote_order, rows

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
State = OutboxEntry.State
WAIT_SECONDS = 60


def worker_env(sim) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "tests.pmr.worker_settings",
        "PMR_BASE_URL": sim.base_url,
        "PMR_CLIENT_ATTEMPTS": "1",
        "PMR_TIMEOUT_SECONDS": "5",
        "PMR_BREAKER_FAILURES": "3",
        "PMR_BREAKER_COOLDOWN_SECONDS": "1",
        "PMR_RETRY_BASE_SECONDS": "0.2",
        "PMR_RETRY_MAX_SECONDS": "1",
        "PMR_DRAIN_LEASE_SECONDS": "2",
    }


def wait_for(what: str, check: Callable[[], bool], log: Path, seconds=WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text()[-4000:]}")


def files_done(order) -> int:
    """Files the PMR confirmed (each image sends its original and its edited file)."""
    return rows(order, kind=OutboxEntry.Kind.IMAGE_PUT, state=State.DONE).count()


def images_done(order) -> int:
    """Images whose original the PMR confirmed (each image also sends its edited file)."""
    uploads = rows(order, kind=OutboxEntry.Kind.IMAGE_PUT, state=State.DONE)
    return uploads.filter(payload__variant="original").count()


def assert_delivered_once(sim, order, n: int) -> dict:
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert order.pmr_synced
    assert not rows(order).exclude(state=State.DONE).exists()
    assert set(order.images.values_list("status", flat=True)) == {Image.Status.SYNCED}
    remote = remote_order(sim, order)
    assert remote["status"] == "completed"
    assert len(remote["images"]) == n
    assert [img["writes"] for img in remote["images"]] == [1] * n
    assert [f["writes"] for f in remote["files"]] == [1] * (2 * n)  # original and edited
    assert OrderDelivery.objects.get(order=order).pmr_status == "completed"
    return remote


def test_outage_in_the_middle_of_an_order(
    sim, pmr_event, ai_done_order, media_root, tmp_path, settings, client, users
):
    sim.set_faults(latency_ms=60)
    breaker = redis.Redis.from_url(settings.REDIS_URL)
    with celery_worker_process(
        "pmr", media_root=media_root, log_dir=tmp_path, env=worker_env(sim)
    ) as worker:
        order = ai_done_order(50)  # the drain is queued at the commit
        wait_for("the first uploads", lambda: files_done(order) >= 8, worker.log)
        sim.set_faults(down=True)

        wait_for(
            "the circuit to open and the order to wait",
            lambda: (
                breaker.hget("rkh:pmr:breaker:pmr", "opened_at") is not None
                and OrderDelivery.objects.get(order=order).waiting_since is not None
            ),
            worker.log,
        )
        client.force_login(users["Admin"])
        page = client.get(f"/orders/{order.order_ref}/").content.decode()
        assert "Waiting for PMR" in page
        time.sleep(2.5)  # down for a while: probes fail, the circuit opens again
        done_while_down = images_done(order)
        assert done_while_down < 50
        order.refresh_from_db()
        assert order.status == Order.Status.PROCESSING

        sim.set_faults(down=False, latency_ms=0)  # back; nobody touches anything
        wait_for(
            "the order to complete",
            lambda: (
                Order.objects.get(pk=order.pk).status == Order.Status.COMPLETED
                and not rows(order).exclude(state=State.DONE).exists()
            ),
            worker.log,
        )
    assert_delivered_once(sim, order, 50)
    assert OrderDelivery.objects.get(order=order).waiting_since is None
    failed_attempts = sum(rows(order).values_list("attempts", flat=True)) - rows(order).count()
    assert failed_attempts > 0  # writes did fail while the PMR was down


def test_a_worker_killed_during_uploads(sim, pmr_event, ai_done_order, media_root, tmp_path):
    sim.set_faults(latency_ms=200)
    env = worker_env(sim)
    with celery_worker_process(
        "pmr", media_root=media_root, log_dir=tmp_path, env=env, log_name="first.log"
    ) as first:
        order = ai_done_order(40)
        wait_for("uploads in flight", lambda: files_done(order) >= 8, first.log)
        first.kill()
    done_at_kill = images_done(order)
    assert done_at_kill < 40, "the order finished before the kill: nothing was drilled"
    assert rows(order, state=State.PENDING).exists()

    with celery_worker_process(
        "pmr", media_root=media_root, log_dir=tmp_path, env=env, purge=False, log_name="second.log"
    ) as second:
        # The killed task's message is not redelivered before the broker's visibility timeout;
        # the beat's sweep (every 30 s in production) finds the order's due rows: run it now.
        tasks.drain_due.delay()
        wait_for(
            "the order to complete after the kill",
            lambda: (
                Order.objects.get(pk=order.pk).status == Order.Status.COMPLETED
                and not rows(order).exclude(state=State.DONE).exists()
            ),
            second.log,
        )
    remote = assert_delivered_once(sim, order, 40)
    puts = [img["puts"] for img in remote["images"]]
    assert sum(puts) >= 40  # some in-flight uploads were sent again (puts 2), stored once
