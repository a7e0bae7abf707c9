"""Runware WebSocket client with a synchronous facade for Celery workers. No Django imports.

One background thread runs an asyncio loop; each (url, api key) gets one authenticated socket
per process, shared by every thread. See docs/ai.md "Runware client".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from ai_processing.clients.errors import (
    RunwareAuthError,
    RunwareConnectionError,
    RunwareError,
    RunwareTimeout,
    error_from_payload,
)
from ai_processing.clients.sizes import UPSCALE_FACTORS, nearest_allowed_size

__all__ = [
    "CaptionResult",
    "InferenceResult",
    "RunwareClient",
    "UploadResult",
    "UpscaleResult",
    "get_client",
    "nearest_allowed_size",
]

logger = logging.getLogger(__name__)
DEFAULT_URL = "wss://ws-api.runware.ai/v1"
_SECRET_RANDOM = random.SystemRandom()


@dataclass(frozen=True)
class InferenceResult:
    image_url: str | None
    image_uuid: str
    cost: float | None
    seed: int | None


@dataclass(frozen=True)
class CaptionResult:
    text: str
    cost: float | None


@dataclass(frozen=True)
class UpscaleResult:
    image_url: str | None
    image_uuid: str
    input_image_uuid: str | None
    cost: float | None


@dataclass(frozen=True)
class UploadResult:
    image_uuid: str
    image_url: str | None


def data_uri(image_bytes: bytes) -> str:
    mime = "image/png"
    if image_bytes[:3] == b"\xff\xd8\xff":
        mime = "image/jpeg"
    elif image_bytes[:4] == b"RIFF" and image_bytes[8:12] == b"WEBP":
        mime = "image/webp"
    return f"data:{mime};base64,{base64.b64encode(image_bytes).decode()}"


class _LoopThread:
    """One asyncio loop on a daemon thread per process."""

    _lock = threading.Lock()
    _instance: _LoopThread | None = None

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="runware-client", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @classmethod
    def get(cls) -> _LoopThread:
        with cls._lock:
            if cls._instance is None or cls._instance.pid != os.getpid():  # new after fork
                cls._instance = cls()
            return cls._instance


@dataclass
class _Pending:
    future: asyncio.Future
    task: dict
    resent: bool = False


class RunwareClient:
    """Thread-safe Runware client; prefer :func:`get_client` to share one socket per process."""

    def __init__(
        self,
        api_key: str,
        url: str = DEFAULT_URL,
        *,
        task_timeout: float = 120.0,
        connect_timeout: float = 10.0,
        ping_interval: float = 5.0,
        max_in_flight: int = 4,
        backoff_base: float = 0.2,
        backoff_max: float = 10.0,
        connect_attempts: int = 5,
        http_timeout: float = 30.0,
    ):
        if not api_key:
            raise RunwareAuthError("Missing API key", code="missingApiKey")
        self.api_key, self.url = api_key, url
        self.task_timeout, self.connect_timeout = task_timeout, connect_timeout
        self.ping_interval, self.max_in_flight = ping_interval, max_in_flight
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.connect_attempts, self.http_timeout = connect_attempts, http_timeout
        self._runner = _LoopThread.get()
        self._loop = self._runner.loop
        self._ws: ClientConnection | None = None
        self._session_uuid: str | None = None
        self._pending: dict[str, _Pending] = {}
        self._auth_future: asyncio.Future | None = None
        self._conn_lock: asyncio.Lock | None = None
        self._sem: asyncio.Semaphore | None = None
        self._reader: asyncio.Task | None = None
        self._pinger: asyncio.Task | None = None
        self._reconnector: asyncio.Task | None = None
        self._last_pong = time.monotonic()
        self._closed = False
        self.connections_made = 0

    # ---- sync facade ------------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if threading.current_thread() is self._runner.thread:
            coro.close()
            raise RuntimeError("RunwareClient sync methods cannot run on the client loop thread")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def submit(self, tasks: list[dict], *, return_exceptions: bool = False) -> list[Any]:
        """Run raw Runware tasks concurrently (taskUUID added if missing); results in order."""
        return self._call(self.submit_async(tasks, return_exceptions=return_exceptions))

    def image_inference(
        self,
        image_bytes: bytes,
        prompt: str,
        *,
        model: str = "google:4@1",
        width: int | None = None,
        height: int | None = None,
        output_format: str = "JPG",
        include_cost: bool = True,
        resolution: str | None = None,
    ) -> InferenceResult:
        task: dict[str, Any] = {
            "taskType": "imageInference",
            "model": model,
            "positivePrompt": prompt,
            "inputs": {"referenceImages": [data_uri(image_bytes)]},
            "outputType": "URL",
            "outputFormat": output_format,
            "numberResults": 1,
            "includeCost": include_cost,
        }
        if width is not None and height is not None:
            task["width"], task["height"] = width, height
        if resolution is not None:
            task["resolution"] = resolution
        item = self.submit([task])[0]
        return InferenceResult(
            image_url=item.get("imageURL"),
            image_uuid=item["imageUUID"],
            cost=item.get("cost"),
            seed=item.get("seed"),
        )

    def caption(self, image_bytes: bytes, prompt: str | None = None) -> CaptionResult:
        task: dict[str, Any] = {
            "taskType": "imageCaption",
            "inputImage": data_uri(image_bytes),
            "includeCost": True,
        }
        if prompt:
            task["prompt"] = prompt
        item = self.submit([task])[0]
        return CaptionResult(text=item.get("text", ""), cost=item.get("cost"))

    def upscale(
        self,
        image_bytes: bytes,
        factor: int,
        *,
        output_format: str = "JPG",
        include_cost: bool = True,
        model: str | None = None,
    ) -> UpscaleResult:
        """``imageUpscale``: the image enlarged ``factor`` (2, 3 or 4) times on each side.

        The image goes inline as a data URI, not through ``imageUpload`` (which stores at most
        2048 px on the long side and would shrink what we want enlarged). A factor outside
        2..4 raises ``ValueError`` here, before anything is sent (Runware would refuse it).
        """
        if isinstance(factor, bool) or factor not in UPSCALE_FACTORS:
            raise ValueError(f"upscale factor must be one of {UPSCALE_FACTORS}, not {factor!r}")
        task: dict[str, Any] = {
            "taskType": "imageUpscale",
            "inputImage": data_uri(image_bytes),
            "upscaleFactor": factor,
            "outputType": "URL",
            "outputFormat": output_format,
            "includeCost": include_cost,
        }
        if model:
            task["model"] = model
        item = self.submit([task])[0]
        return UpscaleResult(
            image_url=item.get("imageURL"),
            image_uuid=item["imageUUID"],
            input_image_uuid=item.get("inputImageUUID"),
            cost=item.get("cost"),
        )

    def upload(self, image_bytes: bytes) -> UploadResult:
        item = self.submit([{"taskType": "imageUpload", "image": data_uri(image_bytes)}])[0]
        return UploadResult(image_uuid=item["imageUUID"], image_url=item.get("imageURL"))

    def download(self, url: str) -> bytes:
        try:
            response = httpx.get(url, timeout=self.http_timeout, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status in (429, 503, 504):
                raise error_from_payload({"message": str(exc), "statusCode": status}) from exc
            raise RunwareConnectionError(f"download failed: HTTP {status}") from exc
        except httpx.HTTPError as exc:
            raise RunwareConnectionError(f"download failed: {exc}") from exc
        return response.content

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self.aclose())

    # ---- async core (runs on the client loop) -------------------------------------------------

    async def submit_async(self, tasks: list[dict], *, return_exceptions: bool = False) -> list:
        prepared = [{**t, "taskUUID": t.get("taskUUID") or str(uuid.uuid4())} for t in tasks]
        coros = [self._run_task(t) for t in prepared]
        return await asyncio.gather(*coros, return_exceptions=return_exceptions)

    async def _run_task(self, task: dict) -> dict:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_in_flight)
        async with self._sem:
            deadline = time.monotonic() + self.task_timeout
            await self._ensure_connected()
            task_uuid = task["taskUUID"]
            pending = _Pending(asyncio.get_running_loop().create_future(), task)
            self._pending[task_uuid] = pending
            try:
                await self._send_task(task, pending, deadline)
                remaining = max(0.0, deadline - time.monotonic())
                try:
                    return await asyncio.wait_for(asyncio.shield(pending.future), remaining)
                except TimeoutError:
                    raise RunwareTimeout(
                        f"no answer within {self.task_timeout:.1f}s",
                        task_uuid=task_uuid,
                        task_type=task.get("taskType"),
                    ) from None
            finally:
                self._pending.pop(task_uuid, None)

    async def _send_task(self, task: dict, pending: _Pending, deadline: float) -> None:
        """Send once; if the socket died while sending, resend after reconnecting (a duplicate is
        answered with conflictTaskUUID, which then means "already running": keep waiting)."""
        while True:
            ws = self._ws
            try:
                if ws is None:
                    raise ConnectionError("not connected")
                await ws.send(json.dumps([task]))
                return
            except (WebSocketException, ConnectionError, OSError):
                pending.resent = True
                if time.monotonic() >= deadline:
                    raise RunwareTimeout("could not send before the task timeout") from None
                await self._ensure_connected()

    async def _ensure_connected(self) -> None:
        if self._conn_lock is None:
            self._conn_lock = asyncio.Lock()
        if self._ws is not None:
            return
        async with self._conn_lock:
            if self._ws is not None:
                return
            last: Exception | None = None
            for attempt in range(self.connect_attempts):
                try:
                    await self._connect_once()
                    return
                except RunwareAuthError:
                    raise
                except (OSError, WebSocketException, TimeoutError, RunwareError) as exc:
                    last = exc
                    await asyncio.sleep(self._backoff(attempt))
            raise RunwareConnectionError(f"cannot connect to {self.url}: {last}")

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2**attempt)
        return delay * _SECRET_RANDOM.uniform(0.7, 1.3)

    async def _connect_once(self) -> None:
        ws = await asyncio.wait_for(
            connect(self.url, max_size=None, ping_interval=None, open_timeout=self.connect_timeout),
            self.connect_timeout,
        )
        auth: dict[str, Any] = {"taskType": "authentication", "apiKey": self.api_key}
        if self._session_uuid:
            auth["connectionSessionUUID"] = self._session_uuid
        self._auth_future = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(ws))
        try:
            await ws.send(json.dumps([auth]))
            self._session_uuid = await asyncio.wait_for(self._auth_future, self.connect_timeout)
        except BaseException:
            self._reader.cancel()
            await ws.close()
            raise
        self._ws = ws
        self.connections_made += 1
        self._last_pong = time.monotonic()
        if self._pinger is None or self._pinger.done():
            self._pinger = asyncio.create_task(self._ping_loop())

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self._on_message(raw)
        except WebSocketException:
            pass
        finally:
            auth = self._auth_future
            if auth is not None and not auth.done():
                auth.set_exception(RunwareConnectionError("closed during authentication"))
            if self._ws is ws:
                self._ws = None
                if self._pending and not self._closed:
                    self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if self._reconnector is None or self._reconnector.done():
            self._reconnector = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        """Resume the session so buffered results arrive; tasks in flight are not resent.

        ``_ensure_connected`` tries ``connect_attempts`` times with backoff. When every
        attempt fails the service is gone (connection refused, a dead host): the tasks in
        flight fail now with ``RunwareConnectionError``, so their callers fall back to the
        next provider within seconds instead of waiting out ``task_timeout`` (120 s) on a
        socket that will not come back. The next call connects afresh.
        """
        while self._pending and not self._closed:
            if self._ws is None:
                try:
                    await self._ensure_connected()
                except RunwareError as exc:
                    error = (
                        exc
                        if isinstance(exc, RunwareAuthError)
                        else RunwareConnectionError(
                            f"connection lost and not re-established: {exc}"
                        )
                    )
                    self._fail_pending(error)
                    return
            await self._recover_unsent()
            if self._ws is not None:
                return

    def _fail_pending(self, error: RunwareError) -> None:
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(error)

    async def _recover_unsent(self) -> None:
        """After a resume, results buffered by the server arrive by themselves. A task whose
        message was lost with the socket (sent into a closing connection) is re-announced under
        the same taskUUID: the server answers conflictTaskUUID (ignored) for a task it already
        has, so nothing runs twice."""
        await asyncio.sleep(0.05)  # let the buffered results arrive first
        ws = self._ws
        for pending in list(self._pending.values()):
            if pending.future.done() or ws is None:
                continue
            pending.resent = True
            with contextlib.suppress(WebSocketException, OSError):
                await ws.send(json.dumps([pending.task]))

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            logger.warning("Runware sent non-JSON: %.200r", raw)
            return
        for item in message.get("data") or []:
            task_type = item.get("taskType")
            if task_type == "ping":
                self._last_pong = time.monotonic()
            elif task_type == "authentication":
                if self._auth_future is not None and not self._auth_future.done():
                    self._auth_future.set_result(item.get("connectionSessionUUID"))
            else:
                pending = self._pending.get(item.get("taskUUID"))
                if pending is not None and not pending.future.done():
                    pending.future.set_result(item)
        for err in message.get("errors") or []:
            self._on_error(err)

    def _on_error(self, err: dict) -> None:
        if err.get("taskType") == "authentication" or err.get("code") in (
            "invalidApiKey",
            "missingApiKey",
        ):
            if self._auth_future is not None and not self._auth_future.done():
                self._auth_future.set_exception(error_from_payload(err))
            return
        pending = self._pending.get(err.get("taskUUID"))
        if pending is None or pending.future.done():
            logger.warning("Runware error for no pending task: %s", err.get("message"))
            return
        if err.get("code") == "conflictTaskUUID" and pending.resent:
            return  # our resend of a task the server already has: its result will come
        pending.future.set_exception(error_from_payload(err))

    async def _ping_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.ping_interval)
            ws = self._ws
            if ws is None:
                continue
            if time.monotonic() - self._last_pong > 3 * self.ping_interval + self.connect_timeout:
                logger.warning("Runware pong overdue; reconnecting")
                await ws.close()
                continue
            with contextlib.suppress(WebSocketException, OSError):
                await ws.send(json.dumps([{"taskType": "ping", "ping": True}]))

    async def aclose(self) -> None:
        self._closed = True
        for task in (self._pinger, self._reconnector):
            if task is not None:
                task.cancel()
        if self._ws is not None:
            await self._ws.close()
            self._ws = None


_clients: dict[tuple[int, str, str], RunwareClient] = {}
_clients_lock = threading.Lock()


def get_client(api_key: str, url: str = DEFAULT_URL, **options: Any) -> RunwareClient:
    """The process-wide client for (url, api key); options apply when it is first created."""
    key = (os.getpid(), url, api_key)
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client._closed:
            client = _clients[key] = RunwareClient(api_key, url, **options)
        return client
