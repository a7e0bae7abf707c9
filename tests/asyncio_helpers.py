"""Run a coroutine to completion from a test, whatever loop the thread already has.

Playwright's sync API (the browser tests) keeps an event loop running in the
main thread for the whole session, so ``asyncio.run`` there fails; a fresh
thread always gets its own loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    if timeout is not None:
        coro = asyncio.wait_for(coro, timeout)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
