"""Fault drills (issue 11): crashes inside the installation, while an order goes through.

An external system sends an order of 10 photos (1600 px) through the REST API to a whole
installation (``stack``: web, a worker per step, beat, a Redis of its own with its
append-only file, the Runware, Gemini and PMR simulators). Mid-order, one piece is killed
with SIGKILL and started again: the ingest worker, the AI worker, the PMR worker, and Redis
itself (``kill -9``, then started on the same port and data). Each time:

- the order completes, here and at the PMR, within ``RECOVERY_SECONDS`` of the kill;
- every image is stored at the PMR exactly once (the simulator's per-image write count);
- no file is left in MEDIA_ROOT that no row names.

And an API client that uploads slowly has its order kept open until it submits.

The timings are the drills' shortened ones (tests/drills/stack.py); the same drills at full
size with production timings are ``bench/drills.py`` (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import time

import pytest

from orders.models import Image, Order

from .conftest import assert_delivered_once, completed, wait_for

pytestmark = [
    pytest.mark.worker,
    pytest.mark.timeout(180),
    pytest.mark.django_db(transaction=True),
]
N = 10
#: The bound each drill states: the order completes within this many seconds of the kill
#: (with the drills' visibility timeout of 8 s, sweeps every 2 s, leases of 3 s).
RECOVERY_SECONDS = 60
#: How long the killed piece stays down before it is started again.
DOWN_SECONDS = 1.0


def _count(sent, *statuses) -> int:
    return Image.objects.filter(order_id=sent.pk, status__in=statuses).count()


def _leased(stack, pattern: str) -> bool:
    return any(True for _ in stack.redis.client().scan_iter(match=pattern, count=1000))


AT_KILL: dict[str, dict[str, int]] = {}


def _kill_when(stack, name: str, what: str, ready, sent=None) -> float:
    """Kill ``name`` the moment ``ready()`` holds (polled fast); the time of the kill."""
    wait_for(what, ready, stack, seconds=60)
    stack.kill(name)
    killed = time.monotonic()
    if sent is not None:
        AT_KILL[name] = _snapshot(sent)
    return killed


def _snapshot(sent) -> dict[str, int]:
    """How many images of the order are in each status (printed at the kill)."""
    from django.db.models import Count

    rows = Image.objects.filter(order_id=sent.pk).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def _report(record_property, name: str, killed: float, done: float, at_kill=None) -> None:
    record_property(f"{name}_recovery_seconds", round(done - killed, 1))
    at_kill = at_kill or AT_KILL.get(name)
    print(f"\n{name}: completed {done - killed:.1f} s after the kill (at the kill: {at_kill})")


def test_ingest_worker_killed_mid_ingest(stack, simulators, send_order, media, record_property):
    sent = send_order(N)
    killed = _kill_when(
        stack,
        "ingest",
        "an ingest in flight after two images passed it",
        lambda: _count(sent, *Image.PAST_INGEST) >= 2 and _leased(stack, "rkh:ingest:image:*"),
        sent,
    )
    assert _count(sent, Image.Status.UPLOADED) > 0, "every image was ingested: nothing drilled"
    time.sleep(DOWN_SECONDS)
    stack.start("ingest")
    wait_for("the order to complete", completed(sent, simulators["pmr"]), stack, 60)
    done = time.monotonic()
    _report(record_property, "ingest", killed, done)
    assert done - killed < RECOVERY_SECONDS
    assert_delivered_once(sent, simulators["pmr"], media)


def test_ai_worker_killed_mid_image(stack, simulators, send_order, media, record_property):
    simulators["runware"].core.faults.update({"latency": 0.6})
    try:
        sent = send_order(N)
        killed = _kill_when(
            stack,
            "ai",
            "AI work in flight after two images were processed",
            lambda: (
                _count(sent, Image.Status.PROCESSED, Image.Status.SYNCED) >= 2
                and _leased(stack, "rkh:ai:image:*")
            ),
            sent,
        )
        assert _count(sent, Image.Status.INGESTED, Image.Status.ANALYZED) > 0
        time.sleep(DOWN_SECONDS)
        stack.start("ai")
        wait_for("the order to complete", completed(sent, simulators["pmr"]), stack, 60)
        done = time.monotonic()
    finally:
        simulators["runware"].core.faults.update({"latency": 0.0})
    _report(record_property, "ai", killed, done)
    assert done - killed < RECOVERY_SECONDS
    assert_delivered_once(sent, simulators["pmr"], media)
    order = sent.order()
    assert order.failed_images == 0  # a killed worker is nobody's fault


def test_pmr_worker_killed_mid_delivery(stack, simulators, send_order, media, record_property):
    # Slow enough that the kill lands mid-delivery on a loaded machine too: each image is now
    # two files or more (original, edited, prints), so a 300 ms PMR could finish the order
    # between two polls of the condition below.
    simulators["pmr"].set_faults(latency_ms=600)
    try:
        sent = send_order(N)
        killed = _kill_when(
            stack,
            "pmr",
            "uploads in flight after two images reached the PMR",
            lambda: (
                _count(sent, Image.Status.SYNCED) >= 2
                and _leased(stack, f"rkh:pmr:drain:{sent.pk}")
            ),
            sent,
        )
        assert _count(sent, Image.Status.SYNCED) < N, "delivered before the kill: nothing drilled"
        time.sleep(DOWN_SECONDS)
        stack.start("pmr")
        wait_for("the order to complete", completed(sent, simulators["pmr"]), stack, 60)
        done = time.monotonic()
    finally:
        simulators["pmr"].set_faults(latency_ms=0)
    _report(record_property, "pmr", killed, done)
    assert done - killed < RECOVERY_SECONDS
    assert_delivered_once(sent, simulators["pmr"], media)


def test_redis_killed_mid_order_and_restarted(
    stack, simulators, send_order, media, record_property
):
    simulators["runware"].core.faults.update({"latency": 0.4})
    try:
        sent = send_order(N)
        killed = _kill_when_redis(stack, sent)
        time.sleep(2.0)  # Redis is away for a moment: tasks meet refused connections
        stack.redis.start()  # same port, same data directory: the append-only file is replayed
        wait_for("the order to complete", completed(sent, simulators["pmr"]), stack, 90)
        done = time.monotonic()
    finally:
        simulators["runware"].core.faults.update({"latency": 0.0})
    _report(record_property, "redis", killed, done)
    assert done - killed < RECOVERY_SECONDS
    for name in ("web", "ingest", "ai", "pmr", "beat"):
        assert stack.alive(name), f"{name} did not survive the Redis restart\n{stack.logs()}"
    assert_delivered_once(sent, simulators["pmr"], media)
    assert sent.order().failed_images == 0  # an outage is nobody's fault


def _kill_when_redis(stack, sent) -> float:
    wait_for(
        "AI work in flight",
        lambda: (
            _count(sent, Image.Status.PROCESSED) >= 2
            and _count(sent, Image.Status.INGESTED, Image.Status.ANALYZED) >= 2
        ),
        stack,
        seconds=60,
    )
    stack.redis.kill()
    killed = time.monotonic()
    AT_KILL["redis"] = _snapshot(sent)
    return killed


def test_a_slow_api_uploader_keeps_its_order_open(stack, simulators, send_order, media):
    """One photo every 1.5 s, each ingested (and its AI work done) before the next arrives:
    the order waits for the client's submit instead of completing after the first photo
    (and answering the next uploads 409 "completed")."""
    statuses: list[str] = []

    def between(i: int) -> None:
        order = Order.objects.latest("pk")
        wait_for(
            "the photo to be ingested",
            lambda: Image.objects.filter(order=order, status__in=Image.PAST_INGEST).count() > i,
            stack,
            seconds=30,
        )
        time.sleep(1.5)
        statuses.append(Order.objects.get(pk=order.pk).status)

    sent = send_order(4, between=between)

    assert statuses == [Order.Status.PENDING] * 4, statuses
    wait_for("the order to complete", completed(sent, simulators["pmr"]), stack, 60)
    assert_delivered_once(sent, simulators["pmr"], media)
