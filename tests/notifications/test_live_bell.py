"""The bell over WebSockets, against the real ASGI application and the real Redis channel layer:
``ws/notifications/`` starts with the bell's state and follows it; the order page's socket carries
the bell too (only changes: the page was rendered with the count); nobody hears another's."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from orders import consumers
from tests.asyncio_helpers import run_async
from tests.live.conftest import (  # noqa: F401 (the live tests' autouse fixtures)
    _async_safety,
    _fast_heartbeat,
    communicator,
    hang_up,
    messages_within,
    receive,
    ws_headers,
)

from .conftest import complete, notify_for

pytestmark = pytest.mark.django_db(transaction=True)


def _notify_completed(order):
    return notify_for(complete(order))


async def _next_of(comm, kind: str, timeout: float = 10) -> dict:
    while True:
        message = await receive(comm, timeout)
        if message["type"] == kind:
            return message


def test_the_bells_own_socket_starts_with_the_state_and_follows_it(users, make_order):
    owner = users["User"]
    order = make_order(owner)

    headers = ws_headers(owner)

    async def scenario():
        comm = communicator("/ws/notifications/", headers)
        accepted, _ = await comm.connect(timeout=5)
        assert accepted
        first = await receive(comm)
        made = await database_sync_to_async(_notify_completed)(order)
        after = await _next_of(comm, "notifications")
        await hang_up(comm)
        return first, made, after

    first, made, after = run_async(scenario(), timeout=30)
    assert first == {"type": "notifications", "unread": 0, "latest": []}
    assert after["unread"] == 1
    assert [n["id"] for n in after["latest"]] == [made[0].pk]
    assert after["latest"][0]["title"] == f"Order {order.order_ref} is completed"
    assert after["latest"][0]["system"] is True


def test_the_order_page_socket_carries_the_bell(users, make_order):
    owner = users["User"]
    watched, other = make_order(owner), make_order(owner)

    headers = ws_headers(owner)

    async def scenario():
        comm = communicator(f"/ws/orders/{watched.order_ref}/?after=0", headers)
        accepted, _ = await comm.connect(timeout=5)
        assert accepted
        first = await receive(comm)
        await database_sync_to_async(_notify_completed)(other)  # news about another order
        bell = await _next_of(comm, "notifications")
        await hang_up(comm)
        return first, bell

    first, bell = run_async(scenario(), timeout=30)
    assert first["type"] == "events"  # the order stream's protocol is unchanged
    assert bell["unread"] == 1
    assert bell["latest"][0]["title"] == f"Order {other.order_ref} is completed"


def test_nobody_hears_another_users_notifications(users, make_order):
    order = make_order(users["other"])

    headers = ws_headers(users["User"])

    async def scenario():
        comm = communicator("/ws/notifications/", headers)
        await comm.connect(timeout=5)
        await receive(comm)
        await database_sync_to_async(_notify_completed)(order)
        heard = await messages_within(comm, 2.5)  # heartbeats every second re-read, too
        await hang_up(comm)
        return heard

    assert run_async(scenario(), timeout=30) == []


def test_signed_out_is_refused(users):
    headers = ws_headers(None)

    async def scenario():
        comm = communicator("/ws/notifications/", headers)
        accepted, code = await comm.connect(timeout=5)
        await hang_up(comm)
        return accepted, code

    assert run_async(scenario(), timeout=20) == (False, consumers.CLOSE_NOT_AUTHENTICATED)
