"""Live streams when Redis goes away and comes back: closed cleanly, then accepted again.

A walkthrough (issue 14) found WebSocket handshakes answering 500 for about ten seconds after
the embedded Redis was killed and restarted: the web process's channel-layer pool handed out
connections the server had closed, and each failed its first command (``group_add``) with
``ConnectionError``. ``rkh_site.channel_layer.RedisChannelLayer`` retries such a command once
on a fresh connection. Here against a Redis of the test's own, killed with ``kill -9`` and
started again while the web side's pool still holds the connections of the streams before.

While Redis is away, an open stream ends with 1012 ("service restart", the browser reconnects)
instead of an exception out of the ASGI application, and its heartbeat ends with it.
"""

from __future__ import annotations

import asyncio
import copy

import pytest

from orders import consumers
from rkh_site.channel_layer import RedisChannelLayer
from tests.asyncio_helpers import run_async
from tests.drills.stack import PrivateRedis
from tests.live.conftest import communicator, hang_up, receive, ws_headers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

#: Streams opened at once: each takes a pooled connection of its own for its handshake.
STREAMS = 4


@pytest.fixture
def restartable_redis(tmp_path, settings):
    """The channel layer on a Redis of this test's own (``kill -9`` and start again)."""
    server = PrivateRedis(tmp_path / "redis", tmp_path / "redis.log")
    server.start()
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"][0]["address"] = server.url
    settings.CHANNEL_LAYERS = layers  # Channels drops its layers when the setting changes
    yield server
    server.stop()


async def _open(path: str, headers) -> list:
    """Open ``STREAMS`` streams at once; each must be accepted and send the order."""
    comms = [communicator(path, headers) for _ in range(STREAMS)]
    results = await asyncio.gather(*(comm.connect(timeout=10) for comm in comms))
    assert [accepted for accepted, _ in results] == [True] * STREAMS, results
    firsts = await asyncio.gather(*(receive(comm, timeout=10) for comm in comms))
    assert {first["type"] for first in firsts} == {"events"}, firsts
    return comms


async def _streams_across_a_restart(server: PrivateRedis, path: str, headers) -> None:
    # One event loop throughout: the layer keeps its pools per loop, as a web process does.
    for comm in await _open(path, headers):
        await hang_up(comm)
    await asyncio.to_thread(server.kill)
    await asyncio.to_thread(server.start)
    comms = await _open(path, headers)  # the pool's connections are the dead server's
    for comm in comms:
        await hang_up(comm)


def test_streams_open_at_once_after_redis_restarts(restartable_redis, users, make_order):
    order = make_order(users["User"])
    run_async(
        _streams_across_a_restart(
            restartable_redis, f"/ws/orders/{order.order_ref}/?after=0", ws_headers(users["User"])
        ),
        timeout=90,
    )


async def _doorbells_across_a_restart(server: PrivateRedis, config: dict) -> list[dict]:
    layer = RedisChannelLayer(**config)
    try:
        listeners = [await layer.new_channel() for _ in range(STREAMS)]
        await asyncio.gather(*(layer.group_add("order-1", name) for name in listeners))
        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(server.start)  # an empty Redis: membership is gone with it
        await asyncio.gather(*(layer.group_add("order-1", name) for name in listeners))
        await layer.group_send("order-1", {"type": "order.changed", "seq": 7})
        return await asyncio.gather(
            *(asyncio.wait_for(layer.receive(name), 10) for name in listeners)
        )
    finally:
        await layer.close_pools()


def test_the_layer_rejoins_and_delivers_after_redis_restarts(restartable_redis, settings):
    config = dict(settings.CHANNEL_LAYERS["default"]["CONFIG"])
    received = run_async(_doorbells_across_a_restart(restartable_redis, config), timeout=60)
    assert received == [{"type": "order.changed", "seq": 7}] * STREAMS


def _stream_tasks() -> list[asyncio.Task]:
    """The live consumers' heartbeats and flushers still running on this loop."""
    names = ("_heartbeat", "_flush_loop")
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and task.get_coro().__qualname__.endswith(names)
    ]


async def _stream_while_redis_dies(server: PrivateRedis, path: str, headers) -> tuple[dict, list]:
    comms = await _open(path, headers)
    comm = comms[0]
    try:
        assert _stream_tasks(), "the stream runs a heartbeat"
        await asyncio.to_thread(server.kill)
        while True:  # heartbeats may come first; the stream must then close, not raise
            output = await comm.receive_output(timeout=15)
            if output["type"] == "websocket.close":
                break
        await asyncio.sleep(0.1)  # cancelled tasks finish on the loop's next turns
        return output, _stream_tasks()
    finally:
        for each in comms:
            await hang_up(each)


def test_an_open_stream_closes_cleanly_when_redis_goes_away(restartable_redis, users, make_order):
    order = make_order(users["User"])
    closed, left_running = run_async(
        _stream_while_redis_dies(
            restartable_redis, f"/ws/orders/{order.order_ref}/?after=0", ws_headers(users["Viewer"])
        ),
        timeout=60,
    )
    assert closed == {"type": "websocket.close", "code": consumers.CLOSE_SERVICE_RESTART}
    assert left_running == [], "the ended stream's heartbeat would go on reading the database"
