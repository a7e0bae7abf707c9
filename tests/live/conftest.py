"""Fixtures of the live-status tests: the real ASGI app, the real Redis channel layer.

Consumers run in the test process through ``WebsocketCommunicator`` (their
own event loop, in a thread: ``tests.asyncio_helpers.run_async``) and read the
database from Channels' worker thread, so these tests commit (transactional
database). ``DJANGO_ALLOW_ASYNC_UNSAFE`` is removed here: an ORM call made on
the event loop by a consumer fails the test instead of passing silently (not
when the browser tests' Playwright loop runs in the main thread of the same
session: their ORM calls need it).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from tests.asyncio_helpers import run_async

ORIGIN = b"http://127.0.0.1"


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture(autouse=True)
def _async_safety(monkeypatch) -> Iterator[None]:
    # Unless Playwright's sync API (the browser tests, earlier in the same session) keeps a
    # loop running in this thread: then the tests' own ORM calls need the escape hatch too.
    if not _loop_running_here():
        monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    yield
    # Channels' database thread keeps its connection; close it so the test
    # database can be flushed and dropped.
    run_async(database_sync_to_async(connections.close_all)(), timeout=10)


@pytest.fixture(autouse=True)
def _fast_heartbeat(settings) -> None:
    """Heartbeats every second: tests of revoked access need not wait 25 s."""
    settings.LIVE_HEARTBEAT_S = 1


def session_cookie(user) -> str:
    """A real session of ``user`` (as a browser would have after signing in)."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def ws_headers(
    user=None, *, origin: bytes | None = ORIGIN, extra: list[tuple[bytes, bytes]] | None = None
) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    if origin is not None:
        headers.append((b"origin", origin))
    if user is not None:
        headers.append((b"cookie", f"sessionid={session_cookie(user)}".encode()))
    return headers + (extra or [])


def communicator(path: str, headers: list[tuple[bytes, bytes]]) -> WebsocketCommunicator:
    from rkh_site.asgi import application

    return WebsocketCommunicator(application, path, headers=headers)


async def hang_up(comm: WebsocketCommunicator) -> None:
    """Close the client side, as a browser leaving does.

    The consumer is stopped at once; waiting for it to end by itself would
    cost up to a second per test: channels-redis finishes the blocking read it
    has in flight before a stopping consumer's receive task ends.
    """
    await comm.disconnect(timeout=0.1)


async def receive(comm: WebsocketCommunicator, timeout: float = 5) -> dict[str, Any]:
    """The next JSON message that is not a heartbeat."""
    while True:
        message = json.loads(await comm.receive_from(timeout=timeout))
        if message.get("type") != "heartbeat":
            return message


async def messages_within(comm: WebsocketCommunicator, seconds: float) -> list[dict[str, Any]]:
    """The messages (heartbeats left out) that arrive within ``seconds``.

    Waits with ``receive_nothing``: a ``receive_from`` that times out would also
    stop the application under test (asgiref's communicator cancels it).
    """
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if await comm.receive_nothing(timeout=min(remaining, 0.05), interval=0.01):
            continue
        message = json.loads(await comm.receive_from(timeout=1))
        if message.get("type") != "heartbeat":
            seen.append(message)
    return seen


async def collect_events(
    comm: WebsocketCommunicator, until_seq: int, timeout: float = 10
) -> tuple[list[int], list[dict[str, Any]]]:
    """Receive until an event numbered ``until_seq`` arrived; (seqs in order, messages)."""
    seqs: list[int] = []
    messages: list[dict[str, Any]] = []
    while not seqs or seqs[-1] < until_seq:
        message = await receive(comm, timeout)
        assert message["type"] == "events", message
        messages.append(message)
        seqs.extend(e["seq"] for e in message["events"])
    return seqs, messages
