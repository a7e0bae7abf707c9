"""Running an aiohttp simulator on a background thread with its own event loop.

Both simulators (Runware, Gemini) are used the same way by tests and tools:
``with Simulator(...) as sim:`` starts it on a free port, ``stop()`` closes it.
The command-line entry points call ``start_async`` on their own loop instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any, Self

from aiohttp import web


class BackgroundServer:
    """Base for a simulator: subclasses set ``core`` (with an ``app()``) in ``__init__``."""

    thread_name = "simulator"
    core: Any

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    async def start_async(self) -> None:
        self._runner = web.AppRunner(self.core.app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # the bound port when port=0

    async def before_stop(self) -> None:
        """Hook: close what aiohttp's cleanup would wait on (e.g. open WebSockets)."""

    async def stop_async(self) -> None:
        await self.before_stop()
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> Self:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self.start_async())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self.thread_name} did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop_async(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def serve_forever(self, banner: str) -> None:
        """For the command line: serve on this thread's loop until interrupted."""

        async def serve() -> None:
            await self.start_async()
            logging.info(banner, self.host, self.port)
            try:
                await asyncio.Event().wait()
            finally:
                await self.stop_async()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
