"""The simulator's control surface (``/_sim/*``): not part of the PMR, only for tests,
benchmarks and ``make run``.

``GET /_sim/state`` and ``POST /_sim/faults`` come from the shared ``ControlEndpoints``; this
mixin adds events and customers, token lifetime, reset, and webhook deliveries to the project.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import aiohttp
from aiohttp import web

from pmr.clients.webhooks import sign
from pmr.simulator.api import ORDER_STATUSES
from pmr.simulator.errors import ApiError, not_found
from pmr.simulator.state import Faults, Repository, Stats, Tokens, iso

WEBHOOK_EVENT = "order.status_changed"
WEBHOOK_TIMEOUT = 10.0


class SimControl:
    repo: Repository
    tokens: Tokens
    faults: Faults
    stats: Stats
    webhook_url: str | None
    webhook_secret: str
    initial_faults: Faults
    initial_token_ttl: int

    def add_control_routes(self, app: web.Application) -> None:
        app.router.add_get("/_sim/state", self.state_handler)  # type: ignore[attr-defined]
        app.router.add_post("/_sim/faults", self.faults_handler)  # type: ignore[attr-defined]
        app.router.add_post("/_sim/events", self.events_handler)
        app.router.add_post("/_sim/tokens", self.tokens_handler)
        app.router.add_post("/_sim/webhooks", self.webhooks_handler)
        app.router.add_post("/_sim/reset", self.reset_handler)

    def state(self) -> dict[str, Any]:
        return {
            **self.repo.state(),
            **self.stats.as_dict(),
            "tokens": self.tokens.as_dict(),
            "faults": self.faults.as_dict(),
            "webhook_url": self.webhook_url,
        }

    async def reset_handler(self, request: web.Request) -> web.Response:
        """Back to the seed: orders, images, deliveries, counters and faults cleared.

        Issued tokens survive (like sessions), so a client's cached token keeps working.
        """
        self.repo.seed()
        self.blobs.clear()  # type: ignore[attr-defined]
        self.faults = Faults(**self.initial_faults.as_dict())
        self.stats = Stats()
        self.tokens.ttl = self.initial_token_ttl
        self.repo.save()
        return web.json_response(self.state())

    async def events_handler(self, request: web.Request) -> web.Response:
        """Add or replace events (``status`` open/closed) and customers."""
        data = await _control_json(request)
        events = data.get("events", [])
        customers = data.get("customers", [])
        if not isinstance(events, list) or not isinstance(customers, list):
            raise ApiError(400, "invalid_request", "events and customers must be lists.")
        for event in events:
            if not isinstance(event, dict) or not event.get("event_id") or not event.get("name"):
                raise ApiError(400, "invalid_request", "Each event needs event_id and name.")
            if event.get("status", "open") not in ("open", "closed"):
                raise ApiError(400, "invalid_request", "Event status must be open or closed.")
            self.repo.events[event["event_id"]] = {
                "event_id": event["event_id"],
                "name": event["name"],
                "date": event.get("date") or time.strftime("%Y-%m-%d"),
                "type": event.get("type", "other"),
                "customer_id": event.get("customer_id"),
                "status": event.get("status", "open"),
            }
        for customer in customers:
            if not isinstance(customer, dict) or not customer.get("customer_id"):
                raise ApiError(400, "invalid_request", "Each customer needs customer_id.")
            self.repo.customers[customer["customer_id"]] = {
                "customer_id": customer["customer_id"],
                "name": customer.get("name", customer["customer_id"]),
                "email": customer.get("email"),
                "phone": customer.get("phone"),
            }
        self.repo.save()
        return web.json_response(
            {
                "events": list(self.repo.events.values()),
                "customers": list(self.repo.customers.values()),
            }
        )

    async def tokens_handler(self, request: web.Request) -> web.Response:
        """``{"ttl": seconds}`` for tokens issued from now on; ``{"expire_all": true}``."""
        data = await _control_json(request)
        if "ttl" in data:
            ttl = data["ttl"]
            if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
                raise ApiError(400, "invalid_request", "ttl must be a whole number >= 0.")
            self.tokens.ttl = ttl
        if data.get("expire_all"):
            self.tokens.expire_all()
        return web.json_response(self.tokens.as_dict())

    async def webhooks_handler(self, request: web.Request) -> web.Response:
        """Change an order's PMR status and POST the signed webhook; or resend a delivery.

        Body: ``{"order_ref", "status", "status_reason"?}`` or ``{"repeat_delivery": id}``;
        optional ``delivery_id``, ``timestamp``, ``signature`` overrides (tests of the
        receiver's refusals) and ``webhook_url``. Answers with what was sent and what the
        project answered.
        """
        data = await _control_json(request)
        url = data.get("webhook_url") or self.webhook_url
        if data.get("repeat_delivery"):
            delivery = self.repo.deliveries.get(str(data["repeat_delivery"]))
            if delivery is None:
                raise not_found("delivery", str(data["repeat_delivery"]))
            raw = delivery["body"].encode("utf-8")
            delivery_id = delivery["delivery_id"]
        else:
            raw, delivery_id = self._change_status(data)
        timestamp = int(data.get("timestamp") or time.time())
        signature = data.get("signature") or sign(self.webhook_secret, timestamp, delivery_id, raw)
        headers = {
            "Content-Type": "application/json",
            "X-PMR-Event": WEBHOOK_EVENT,
            "X-PMR-Delivery": delivery_id,
            "X-PMR-Timestamp": str(timestamp),
            "X-PMR-Signature": signature,
        }
        answer = await _post(url, raw, headers) if url else {"status": None, "error": "no URL"}
        delivery = self.repo.deliveries.setdefault(
            delivery_id,
            {"delivery_id": delivery_id, "body": raw.decode("utf-8"), "attempts": []},
        )
        delivery["attempts"].append(
            {"url": url, "timestamp": timestamp, "signature": signature, "answer": answer}
        )
        self.repo.save()
        return web.json_response(
            {
                "delivery_id": delivery_id,
                "url": url,
                "headers": headers,
                "body": json.loads(raw),
                "answer": answer,
            }
        )

    def _change_status(self, data: dict[str, Any]) -> tuple[bytes, str]:
        ref = data.get("order_ref")
        status = data.get("status")
        if status not in ORDER_STATUSES:
            raise ApiError(
                400, "invalid_request", f"status must be one of {', '.join(ORDER_STATUSES)}."
            )
        order = self.repo.orders.get(str(ref))
        if order is None:
            raise not_found("order", str(ref))
        reason = data.get("status_reason")
        now = iso(self.repo.now())
        order.update({"status": status, "status_reason": reason, "updated_at": now})
        payload = {"order_ref": ref, "status": status, "status_reason": reason, "changed_at": now}
        raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return raw, str(data.get("delivery_id") or uuid.uuid4())


async def _control_json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json() if request.can_read_body else {}
    except ValueError as exc:
        raise ApiError(400, "invalid_request", f"Body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "Body must be a JSON object.")
    return data


async def _post(url: str, raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """POST one delivery; the project's status and body, or the connection error."""
    timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=raw, headers=headers) as response,
        ):
            text = await response.text()
            try:
                body: Any = json.loads(text)
            except ValueError:
                body = text
            return {"status": response.status, "body": body}
    except (aiohttp.ClientError, TimeoutError) as exc:
        return {"status": None, "error": repr(exc)}
