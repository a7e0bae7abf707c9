"""The Runware simulator: WebSocket API at /v1, result images and control endpoints over HTTP.

Speaks Runware's wire protocol (docs/ai.md, /work/shared/protocols/runware-and-gemini.md):
JSON arrays of tasks in, ``{"data": [...]}`` / ``{"errors": [...]}`` out, authentication first,
resume by connectionSessionUUID, ping/pong, idle close. No Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from ai_processing.simulator.state import Faults, Session, Stats
from ai_processing.simulator.tasks import HANDLERS, ImageStore, TaskError
from utilities.simulation.background import BackgroundServer
from utilities.simulation.control import ControlEndpoints

logger = logging.getLogger(__name__)
AUTH_DOCS = "https://runware.ai/docs/en/getting-started/how-to-connect"


class SimulatorCore(ControlEndpoints):
    """Everything that happens inside the simulator's event loop."""

    def __init__(
        self,
        api_key: str | None = None,
        faults: Faults | None = None,
        seed: int | None = None,
        idle_timeout: float = 120.0,
        buffer_ttl: float = 120.0,
    ):
        self.api_key = api_key
        self.initial_faults = faults or Faults()
        self.faults = Faults(**self.initial_faults.as_dict())
        self.rng = random.Random(seed)  # noqa: S311 - fault injection, not cryptography
        self.idle_timeout, self.buffer_ttl = idle_timeout, buffer_ttl
        self.stats = Stats()
        self.store = ImageStore()
        self.sessions: dict[str, Session] = {}
        self.sockets: set[web.WebSocketResponse] = set()

    # ---- HTTP -----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1", self.ws_handler)
        app.router.add_get("/images/{name}", self.image_handler)
        app.router.add_get("/_sim/state", self.state_handler)
        app.router.add_post("/_sim/faults", self.faults_handler)
        app.router.add_post("/_sim/reset", self.reset_handler)
        app.router.add_post("/_sim/drop", self.drop_handler)
        return app

    async def image_handler(self, request: web.Request) -> web.Response:
        image_uuid = request.match_info["name"].rsplit(".", 1)[0]
        if image_uuid not in self.store.images:
            raise web.HTTPNotFound()
        data, _ext, mime = self.store.images[image_uuid]
        return web.Response(body=data, content_type=mime)

    def state(self) -> dict[str, Any]:
        return {
            **self.stats.as_dict(),
            "sessions": len(self.sessions),
            "images": len(self.store.images),
            "faults": self.faults.as_dict(),
        }

    async def reset_handler(self, request: web.Request) -> web.Response:
        self.faults = Faults(**self.initial_faults.as_dict())
        open_now = self.stats.open_connections
        self.stats = Stats(open_connections=open_now)
        return web.json_response(self.state())

    async def drop_handler(self, request: web.Request) -> web.Response:
        """Close every open socket (a network blip); sessions survive for resume."""
        dropped = len(self.sockets)
        for ws in list(self.sockets):
            await self._drop(ws)
        return web.json_response({"dropped": dropped})

    async def _drop(self, ws: web.WebSocketResponse) -> None:
        self.stats.drops += 1
        with contextlib.suppress(Exception):
            await ws.close(code=1011, message=b"simulated drop")

    # ---- WebSocket ------------------------------------------------------------------------

    async def ws_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 * 1024 * 1024, autoping=True)
        await ws.prepare(request)
        base_url = f"{request.scheme}://{request.host}"
        ws_lock = asyncio.Lock()
        self.sockets.add(ws)
        self.stats.connections += 1
        self.stats.open_connections += 1
        session: Session | None = None
        try:
            while True:
                try:
                    msg = await ws.receive(timeout=self.idle_timeout)
                except TimeoutError:
                    await ws.close(code=1000, message=b"idle timeout")
                    break
                if msg.type != WSMsgType.TEXT:
                    break
                try:
                    tasks = json.loads(msg.data)
                except ValueError:
                    await self._send(ws, ws_lock, {"errors": [_bad_json()]})
                    continue
                tasks = tasks if isinstance(tasks, list) else [tasks]
                if session is None:
                    session = await self._authenticate(ws, ws_lock, tasks)
                    if session is None:
                        await ws.close(code=1008, message=b"authentication failed")
                        break
                    session.lock = ws_lock
                    tasks = tasks[1:]
                await self._dispatch(session, ws, ws_lock, tasks, base_url)
        finally:
            self.sockets.discard(ws)
            self.stats.open_connections -= 1
            if session is not None and session.ws is ws:
                session.ws = None
        return ws

    async def _send(self, ws, lock: asyncio.Lock, message: dict) -> bool:
        async with lock:
            if ws.closed:
                return False
            try:
                await ws.send_str(json.dumps(message))
            except (ConnectionError, RuntimeError):
                return False
            return True

    async def _authenticate(self, ws, lock, tasks: list) -> Session | None:
        first = tasks[0] if tasks and isinstance(tasks[0], dict) else {}
        key = first.get("apiKey") if first.get("taskType") == "authentication" else None
        error = None
        if not key:
            error = ("missingApiKey", "Missing API key. The first message must authenticate.")
        elif self.faults.auth_fail or (self.api_key is not None and key != self.api_key):
            error = ("invalidApiKey", "Invalid API key. Get one at https://my.runware.ai/keys")
        if error:
            self.stats.auth_failed += 1
            self.stats.errors[error[0]] += 1
            err = {
                "code": error[0],
                "message": error[1],
                "parameter": "apiKey",
                "taskType": "authentication",
                "taskUUID": first.get("taskUUID"),
                "documentation": AUTH_DOCS,
            }
            await self._send(ws, lock, {"errors": [err]})
            return None
        self.stats.auth_ok += 1
        resume = first.get("connectionSessionUUID")
        session = self.sessions.get(resume) if resume else None
        if session is None:
            session = Session(uuid=str(uuid.uuid4()))
            self.sessions[session.uuid] = session
        else:
            self.stats.resumes += 1
        if session.ws is not None and session.ws is not ws:
            await self._drop(session.ws)
        session.ws = ws
        reply = {"taskType": "authentication", "connectionSessionUUID": session.uuid}
        await self._send(ws, lock, {"data": [reply]})
        for message in session.take_buffer(self.buffer_ttl):
            await self._send(ws, lock, message)
        return session

    async def _dispatch(self, session: Session, ws, lock, tasks: list, base_url: str) -> None:
        started = 0
        for task in tasks:
            if not isinstance(task, dict):
                continue
            task_type = task.get("taskType")
            if task_type == "ping":
                self.stats.pings += 1
                await self._send(ws, lock, {"data": [{"taskType": "ping", "pong": True}]})
                continue
            if task_type == "authentication":
                reply = {"taskType": "authentication", "connectionSessionUUID": session.uuid}
                await self._send(ws, lock, {"data": [reply]})
                continue
            task_uuid = task.get("taskUUID")
            if not task_uuid or not isinstance(task_uuid, str):
                await self._error(session, task, TaskError("missingTaskUUID", "Missing taskUUID."))
                continue
            if task_uuid in self.stats.runs:
                err = TaskError(
                    "conflictTaskUUID",
                    f"The taskUUID {task_uuid} is already in use.",
                    "taskUUID",
                )
                await self._error(session, task, err)
                continue
            self.stats.runs[task_uuid] += 1
            started += 1
            asyncio.get_running_loop().create_task(self._run(session, task, base_url))
        if started and self.faults.drop_rate and self.rng.random() < self.faults.drop_rate:
            await asyncio.sleep(0)
            await self._drop(ws)

    async def _run(self, session: Session, task: dict, base_url: str) -> None:
        task_type = task.get("taskType")
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            if self.faults.latency:
                await asyncio.sleep(self.faults.latency * self.rng.uniform(0.5, 1.5))
            handler = HANDLERS.get(task_type)
            if handler is None:
                raise TaskError("unsupportedTaskType", f"Unsupported taskType {task_type!r}.")
            self.stats.tasks[task_type] += 1
            if self.faults.capacity_errors > 0:
                self.faults.capacity_errors -= 1
                raise TaskError(
                    "timeoutProvider",
                    "The provider did not answer in time: capacity exceeded, retry later.",
                    statusCode=504,
                )
            if self.faults.error_rate and self.rng.random() < self.faults.error_rate:
                raise TaskError("providerError", "Simulated provider error.", statusCode=500)
            items = await asyncio.to_thread(handler, task, self.store, base_url)
            for item in items:
                await self._deliver(session, {"data": [item]})
        except TaskError as exc:
            await self._error(session, task, exc)
        except Exception as exc:  # a bug in a handler must still answer the task
            logger.exception("simulator task failed")
            await self._error(session, task, TaskError("internalServerError", str(exc)))
        finally:
            self.stats.in_flight -= 1

    async def _error(self, session: Session, task: dict, exc: TaskError) -> None:
        self.stats.errors[exc.code] += 1
        await self._deliver(session, {"data": [], "errors": [exc.as_dict(task)]})

    async def _deliver(self, session: Session, message: dict) -> None:
        ws = session.ws
        lock = getattr(session, "lock", None) or asyncio.Lock()
        if ws is None or not await self._send(ws, lock, message):
            self.stats.buffered += 1
            session.buffer.append((time.monotonic(), message))


def _bad_json() -> dict:
    return {"code": "invalidJSON", "message": "Message is not valid JSON.", "taskType": None}


class RunwareSimulator(BackgroundServer):
    """Runs the simulator on a background thread with its own event loop (for tests, tools)."""

    thread_name = "runware-simulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any):
        super().__init__(host, port)
        faults = Faults(
            **{k: options.pop(k) for k in list(options) if k in Faults.__dataclass_fields__}
        )
        self.core = SimulatorCore(faults=faults, **options)

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1"

    async def before_stop(self) -> None:
        for ws in list(self.core.sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server shutdown")
