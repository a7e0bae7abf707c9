"""No update lost: catch-up after a reconnect, and live events racing the catch-up read.

Every test checks the same property on the numbers a client receives: exactly
``after + 1, after + 2, …``, each once, in order.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction

from orders import consumers, live, services
from orders.models import Order, OrderEvent
from tests.asyncio_helpers import run_async
from tests.live.conftest import (
    collect_events,
    communicator,
    hang_up,
    messages_within,
    receive,
    ws_headers,
)

pytestmark = pytest.mark.django_db(transaction=True)


def note(order, n: int = 1) -> None:
    """Add ``n`` timeline entries to the order (through the service that numbers them)."""
    for _ in range(n):
        services.record_event(order, OrderEvent.Kind.ORDER_UPDATED, {"fields": ["notes"]})


async def assert_quiet(comm, seconds: float = 0.6) -> None:
    """Nothing but heartbeats and event-less state messages for a while: no repeats."""
    for message in await messages_within(comm, seconds):
        assert not message.get("events"), f"unexpected events after the end: {message}"


def test_reconnect_with_the_last_number_gets_exactly_what_was_missed(users, make_order):
    order = make_order(users["User"])
    note(order, 2)  # 1 created, 2-3 notes
    headers = ws_headers(users["User"])

    async def scenario():
        first = communicator(f"/ws/orders/{order.order_ref}/?after=0", headers)
        assert (await first.connect(timeout=5))[0]
        seen, _ = await collect_events(first, 3)
        await hang_up(first)
        # While the client is away, four more entries are committed.
        await database_sync_to_async(note)(order, 4)
        again = communicator(f"/ws/orders/{order.order_ref}/?after={seen[-1]}", headers)
        assert (await again.connect(timeout=5))[0]
        caught_up, _ = await collect_events(again, 7)
        # Then live: one more, once.
        await database_sync_to_async(note)(order, 1)
        live_seqs, _ = await collect_events(again, 8)
        await assert_quiet(again)
        await hang_up(again)
        return seen, caught_up, live_seqs

    seen, caught_up, live_seqs = run_async(scenario(), timeout=30)
    assert seen == [1, 2, 3]
    assert caught_up == [4, 5, 6, 7]
    assert live_seqs == [8]


def test_a_late_client_catches_up_in_chunks(users, make_order):
    """More entries than one message holds: several messages, ``more`` on all but the last."""
    order = make_order(users["Manager"])
    total = live.MAX_EVENTS_PER_MESSAGE * 2 + 50
    # Rows straight into the table (a quick way to a long timeline); numbers as the service makes.
    OrderEvent.objects.bulk_create(
        OrderEvent(order=order, seq=seq, kind="order.updated", payload={"fields": ["notes"]})
        for seq in range(2, total + 1)
    )
    Order.objects.filter(pk=order.pk).update(last_event_seq=total)
    headers = ws_headers(users["Viewer"])

    async def scenario():
        comm = communicator(f"/ws/orders/{order.order_ref}/?after=0", headers)
        assert (await comm.connect(timeout=5))[0]
        seqs, messages = await collect_events(comm, total)
        await assert_quiet(comm)
        await hang_up(comm)
        return seqs, messages

    seqs, messages = run_async(scenario(), timeout=30)
    assert seqs == list(range(1, total + 1))
    assert [len(m["events"]) for m in messages] == [200, 200, 50]
    assert [m["more"] for m in messages] == [True, True, False]
    assert messages[-1]["order"]["last_seq"] == total


@pytest.mark.parametrize("when", ["before the read", "after the read"])
def test_live_event_racing_the_catch_up_read_arrives_once(
    users, make_order, monkeypatch, settings, when
):
    """An entry committed just before the catch-up query (it is in the read *and* rings the
    doorbell) or just after it (only the doorbell tells): either way, exactly once.

    The race is forced: the consumer's read is wrapped to commit an entry next to it, and
    the doorbell is sent before the read returns. The heartbeat is off, so nothing but the
    doorbell can deliver the second case.
    """
    settings.LIVE_HEARTBEAT_S = 60
    order = make_order(users["User"])
    note(order, 2)
    original = consumers._read_order
    raced = []

    def racing_read(user, order_id, cursor):
        if not raced and when == "before the read":
            raced.append(True)
            note(order)
            live.publisher.flush()
        result = original(user, order_id, cursor)
        if not raced and when == "after the read":
            raced.append(True)
            note(order)
            live.publisher.flush()
        return result

    monkeypatch.setattr(consumers, "_read_order", racing_read)
    headers = ws_headers(users["User"])

    async def scenario():
        comm = communicator(f"/ws/orders/{order.order_ref}/?after=1", headers)
        assert (await comm.connect(timeout=5))[0]
        seqs, _ = await collect_events(comm, 4)
        await assert_quiet(comm)
        await hang_up(comm)
        return seqs

    assert run_async(scenario(), timeout=30) == [2, 3, 4]
    assert raced


def test_doorbell_rings_after_commit_only(users, make_order, settings):
    """A rolled-back entry never reaches a client (its number is reused by the next one);
    an entry whose transaction stays open a while still arrives once it commits. Rung
    inside the transaction, the bell would come before the row is readable and nothing
    would ring again (the heartbeat is off here)."""
    settings.LIVE_HEARTBEAT_S = 60
    order = make_order(users["User"])
    headers = ws_headers(users["User"])

    def rolled_back() -> None:
        with transaction.atomic():
            services.record_event(order, "order.updated", {"fields": ["secret"]})
            transaction.set_rollback(True)

    def slow_commit() -> None:
        # In a thread of its own: Channels' database thread (the consumer's) stays free to
        # read while this transaction is open.
        try:
            with transaction.atomic():
                services.record_event(order, "order.updated", {"fields": ["notes"]})
                time.sleep(0.5)
        finally:
            connection.close()

    async def scenario():
        comm = communicator(f"/ws/orders/{order.order_ref}/?after=1", headers)
        assert (await comm.connect(timeout=5))[0]
        assert (await receive(comm))["events"] == []
        await database_sync_to_async(rolled_back)()
        await assert_quiet(comm, 0.5)
        await asyncio.to_thread(slow_commit)
        message = await receive(comm, timeout=3)
        await hang_up(comm)
        return message

    message = run_async(scenario(), timeout=30)
    assert [(e["seq"], e["payload"]) for e in message["events"]] == [(2, {"fields": ["notes"]})]


def test_a_lost_doorbell_is_repaired_by_the_heartbeat(users, make_order, monkeypatch):
    """With doorbells switched off entirely, the heartbeat's re-read (1 s here) still
    delivers the entry: the channel layer is an optimisation, not the source of truth."""
    order = make_order(users["User"])
    monkeypatch.setattr(live.publisher, "publish", lambda order_id, seq: None)
    headers = ws_headers(users["User"])

    async def scenario():
        comm = communicator(f"/ws/orders/{order.order_ref}/?after=1", headers)
        assert (await comm.connect(timeout=5))[0]
        await receive(comm)
        await database_sync_to_async(note)(order)
        seqs, _ = await collect_events(comm, 2, timeout=5)
        await hang_up(comm)
        return seqs

    assert run_async(scenario(), timeout=30) == [2]
