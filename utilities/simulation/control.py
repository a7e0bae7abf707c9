"""The control endpoints both simulators share: ``GET /_sim/state``, ``POST /_sim/faults``."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class ControlEndpoints:
    """Mixin for a simulator core with ``faults`` (``update``/``as_dict``) and ``state()``."""

    faults: Any

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    async def state_handler(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def faults_handler(self, request: web.Request) -> web.Response:
        try:
            self.faults.update(await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.faults.as_dict())
