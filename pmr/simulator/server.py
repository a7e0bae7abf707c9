"""The PMR simulator: every call of pmr/contract/pmr-v1.yaml plus the ``/_sim`` control surface.

``PMRCore`` is the aiohttp application (state lives on its event loop); ``PMRSimulator`` runs
it on a background thread for tests (``with PMRSimulator(port=0) as sim: sim.base_url``) and
on the main thread for ``python -m pmr.simulator``. No Django.

Every PMR call (not ``/_sim``) passes the middleware in this order: counted per route,
``latency_ms`` waited, ``down`` → 503, injected errors (``fail_next``, ``error_rate``), then for
``/v1`` the bearer token, its expiry, the API key and the scope, then the handler. Any
``ApiError`` becomes the contract's error shape.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiohttp import web

from pmr.simulator.api import TOKEN_KEY, PMRApi
from pmr.simulator.blobs import BlobStore
from pmr.simulator.control import SimControl
from pmr.simulator.errors import ApiError, error_response
from pmr.simulator.state import Faults, Repository, Stats, Tokens
from utilities.simulation.background import BackgroundServer
from utilities.simulation.control import ControlEndpoints

logger = logging.getLogger(__name__)

DEFAULT_PORT = 56793
#: The demo credentials (pmr-v1.md "The simulator"); a real deployment passes its own.
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"
DEMO_API_KEY = "demo-api-key"
DEMO_WEBHOOK_SECRET = "demo-webhook-secret"
MAX_IMAGE_BYTES = 200 * 1024 * 1024
#: Header lines up to 64 KiB: X-Image-Metadata may be 48 KiB of base64.
MAX_HEADER_FIELD = 64 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HTTP_CODES = {404: "not_found", 413: "payload_too_large"}


class PMRCore(PMRApi, SimControl, ControlEndpoints):
    def __init__(
        self,
        *,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        api_key: str = DEMO_API_KEY,
        webhook_secret: str = DEMO_WEBHOOK_SECRET,
        webhook_url: str | None = None,
        token_ttl: int = 3600,
        faults: Faults | None = None,
        state_file: str | os.PathLike[str] | None = None,
        blob_dir: str | os.PathLike[str] | None = None,
        max_image_bytes: int = MAX_IMAGE_BYTES,
        seed: int | None = None,
    ) -> None:
        self.client_id, self.client_secret, self.api_key = client_id, client_secret, api_key
        self.webhook_secret, self.webhook_url = webhook_secret, webhook_url
        self.initial_token_ttl = token_ttl
        self.tokens = Tokens(token_ttl)
        self.initial_faults = faults or Faults()
        self.faults = Faults(**self.initial_faults.as_dict())
        self.stats = Stats()
        self.rng = random.Random(seed)  # noqa: S311 - fault injection, not cryptography
        self.max_image_bytes = max_image_bytes
        self.repo = Repository(state_file)
        if blob_dir is None and state_file is not None:
            blob_dir = f"{os.fspath(state_file)}.blobs"
        self.blobs = BlobStore(blob_dir)

    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[self.middleware],
            client_max_size=2 * 1024 * 1024,  # JSON bodies; images are streamed, not read
            handler_args={"max_field_size": MAX_HEADER_FIELD, "max_line_size": MAX_HEADER_FIELD},
        )
        self.add_api_routes(app)
        self.add_control_routes(app)
        return app

    def close(self) -> None:
        """Remove the temporary image directory (a configured one is kept)."""
        self.blobs.close()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            try:
                return await handler(request)
            except ApiError as exc:
                return exc.response()
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        self.stats.calls[f"{request.method} {route}"] += 1
        try:
            await self._inject_faults()
            if request.path.startswith("/v1/"):
                request[TOKEN_KEY] = self.authenticate(request)
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        except web.HTTPException as exc:  # aiohttp's own: unknown route, body too large
            code = _HTTP_CODES.get(exc.status, "invalid_request")
            response = error_response(exc.status, code, exc.reason)
        except Exception:
            logger.exception("PMR simulator failed on %s %s", request.method, request.path)
            response = error_response(500, "internal_error", "The simulator failed.")
        self.stats.statuses[response.status] += 1
        return response

    async def _inject_faults(self) -> None:
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.down:
            raise ApiError(503, "unavailable", "The PMR is down for maintenance.")
        injected = faults.fail_next > 0
        if injected:
            faults.fail_next -= 1
        elif faults.error_rate and self.rng.random() < faults.error_rate:
            injected = True
        if not injected:
            return
        if faults.error_status == 429:
            raise ApiError(
                429,
                "rate_limited",
                "Too many requests.",
                {"retry_after": faults.retry_after},
                {"Retry-After": str(faults.retry_after)},
            )
        if faults.error_status == 500:
            raise ApiError(500, "internal_error", "Simulated internal error.")
        raise ApiError(503, "unavailable", "Simulated overload.")


class PMRSimulator(BackgroundServer):
    """The simulator on a background thread; ``with PMRSimulator() as sim:`` in tests.

    The helper methods call the ``/_sim`` control surface over HTTP, so they are safe from
    any thread (the state itself lives on the simulator's loop).
    """

    thread_name = "pmr-simulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        super().__init__(host, port)
        faults = {key: options.pop(key) for key in list(options) if key in Faults.__annotations__}
        self.core = PMRCore(faults=Faults(**faults), **options)
        self._http: httpx.Client | None = None

    @property
    def base_url(self) -> str:
        """The PMR base URL to give the client (``PMR_BASE_URL``)."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        super().stop()
        self.core.close()

    # ---- control helpers (tests, benchmarks) ---------------------------------------------

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One ``/_sim`` call; raises ``httpx.HTTPStatusError`` when the simulator refuses it."""
        if self._http is None:
            self._http = httpx.Client(timeout=30)  # one pool: a client per call costs ~20 ms
        response = self._http.request(method, f"{self.base_url}/_sim/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self.control("POST", "faults", faults)

    def add_events(
        self,
        events: list[dict[str, Any]] | None = None,
        customers: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        return self.control(
            "POST", "events", {"events": events or [], "customers": customers or []}
        )

    def set_tokens(self, *, ttl: int | None = None, expire_all: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"expire_all": expire_all}
        if ttl is not None:
            body["ttl"] = ttl
        return self.control("POST", "tokens", body)

    def send_webhook(self, **body: Any) -> dict[str, Any]:
        return self.control("POST", "webhooks", body)

    def reset(self) -> dict[str, Any]:
        return self.control("POST", "reset")
