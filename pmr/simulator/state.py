"""The simulated PMR's memory: faults, tokens, counters and the repository (no Django).

Everything here is touched only from the simulator's event loop, so it needs no locks. The
repository (events, customers, orders, image records, remembered idempotent answers,
webhook deliveries) is plain JSON-able data and is what ``--state-file`` persists; tokens,
faults and counters are per process.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pmr.simulator.seed import seed_customers, seed_events

ERROR_STATUSES = (429, 500, 503)
IDEMPOTENCY_TTL = timedelta(hours=24)


def iso(moment: datetime) -> str:
    """RFC 3339 with microseconds and ``Z``, the form every timestamp of the PMR takes."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """RFC 3339 → aware datetime; raises ValueError for naive or malformed text."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp has no offset")
    return moment


@dataclass
class Faults:
    """``POST /_sim/faults``: applied to every PMR call (``/oauth/token`` included)."""

    down: bool = False  # every call answers 503 unavailable
    latency_ms: int = 0  # added before every answer
    error_rate: float = 0.0  # share of calls answered with error_status
    error_status: int = 503  # 500, 503 or 429
    fail_next: int = 0  # answer the next N calls with error_status (deterministic)
    retry_after: int = 1  # Retry-After seconds of an injected 429

    def update(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise ValueError("faults must be a JSON object")
        merged = {**asdict(self)}
        for key, value in data.items():
            if key not in merged:
                raise ValueError(f"unknown fault {key!r}")
            kind = type(merged[key])
            if kind is bool and not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            merged[key] = kind(value)
        if merged["error_status"] not in ERROR_STATUSES:
            raise ValueError(f"error_status must be one of {ERROR_STATUSES}")
        if not 0.0 <= merged["error_rate"] <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if merged["latency_ms"] < 0 or merged["fail_next"] < 0 or merged["retry_after"] < 0:
            raise ValueError("latency_ms, fail_next and retry_after must not be negative")
        for key, value in merged.items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IssuedToken:
    client_id: str
    scopes: frozenset[str]
    expires_at: float  # time.monotonic()


class Tokens:
    """Bearer tokens issued by ``/oauth/token``; ``ttl`` is settable so tests can expire them."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self.issued: dict[str, IssuedToken] = {}
        self.issued_total = 0

    def issue(self, client_id: str, scopes: frozenset[str]) -> tuple[str, int]:
        value = secrets.token_urlsafe(32)
        self.issued[value] = IssuedToken(client_id, scopes, time.monotonic() + self.ttl)
        self.issued_total += 1
        return value, self.ttl

    def lookup(self, value: str) -> IssuedToken | None:
        return self.issued.get(value)

    def expire_all(self) -> None:
        now = time.monotonic()
        for token in self.issued.values():
            token.expires_at = min(token.expires_at, now)

    def as_dict(self) -> dict[str, Any]:
        now = time.monotonic()
        active = sum(1 for t in self.issued.values() if t.expires_at > now)
        return {"ttl": self.ttl, "issued": self.issued_total, "active": active}


@dataclass
class Stats:
    calls: Counter = field(default_factory=Counter)  # "GET /v1/orders/{order_ref}" -> n
    statuses: Counter = field(default_factory=Counter)  # HTTP status -> n

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "calls_total": sum(self.calls.values()),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


class Repository:
    """Events, customers, orders with their image records, idempotency and deliveries.

    Orders are dicts shaped like the contract's ``Order`` plus ``images`` (image_ref → record
    with ``sha256``, ``size``, ``blob``, ``writes``...). ``puts`` counts image PUT calls per
    ``order_ref/image_ref`` even when nothing was stored.
    """

    def __init__(self, state_file: str | os.PathLike[str] | None = None) -> None:
        self.state_file = Path(state_file) if state_file else None
        self.events: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.deliveries: dict[str, dict[str, Any]] = {}
        self.puts: Counter = Counter()
        self.order_seq = 0
        self._last_now = datetime.fromtimestamp(0, UTC)
        if self.state_file is not None and self.state_file.exists():
            self._load()
        else:
            self.seed()

    # ---- lifecycle -----------------------------------------------------------------------

    def seed(self) -> None:
        self.events = seed_events()
        self.customers = seed_customers()
        self.orders = {}
        self.idempotency = {}
        self.deliveries = {}
        self.puts = Counter()
        self.order_seq = 0

    def now(self) -> datetime:
        """The current time, strictly after the last one handed out (clean keyset order)."""
        moment = datetime.now(UTC)
        if moment <= self._last_now:
            moment = self._last_now + timedelta(microseconds=1)
        self._last_now = moment
        return moment

    def save(self) -> None:
        """Write the JSON state (atomically) when a state file is configured."""
        if self.state_file is None:
            return
        data = {
            "version": 1,
            "events": self.events,
            "customers": self.customers,
            "orders": self.orders,
            "idempotency": self.idempotency,
            "deliveries": self.deliveries,
            "puts": dict(self.puts),
            "order_seq": self.order_seq,
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.state_file.parent, prefix=".pmr-state-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        os.replace(tmp, self.state_file)

    def _load(self) -> None:
        assert self.state_file is not None
        data = json.loads(self.state_file.read_text(encoding="utf-8"))
        self.events = data.get("events", {})
        self.customers = data.get("customers", {})
        self.orders = data.get("orders", {})
        self.idempotency = data.get("idempotency", {})
        self.deliveries = data.get("deliveries", {})
        self.puts = Counter(data.get("puts", {}))
        self.order_seq = int(data.get("order_seq", 0))
        stamps = [parse_iso(o["updated_at"]) for o in self.orders.values()]
        self._last_now = max(stamps, default=self._last_now)

    # ---- idempotency ---------------------------------------------------------------------

    def remembered(self, scope_key: str) -> dict[str, Any] | None:
        record = self.idempotency.get(scope_key)
        if record is None:
            return None
        if parse_iso(record["created_at"]) < datetime.now(UTC) - IDEMPOTENCY_TTL:
            del self.idempotency[scope_key]
            return None
        return record

    def remember(self, scope_key: str, fingerprint: str, status: int, body: Any) -> None:
        self.idempotency[scope_key] = {
            "fingerprint": fingerprint,
            "status": status,
            "body": body,
            "created_at": iso(datetime.now(UTC)),
        }

    # ---- views ---------------------------------------------------------------------------

    @staticmethod
    def image_view(record: dict[str, Any], url: str) -> dict[str, Any]:
        """A file record as the contract's ``StoredImage``."""
        return {
            "image_ref": record["image_ref"],
            "url": url,
            "sha256": record["sha256"],
            "size": record["size"],
            "content_type": record["content_type"],
            "filename": record["filename"],
            "metadata": record["metadata"],
            "variant": record.get("variant") or "original",
            "print_size": record.get("print_size"),
            "dpi": record.get("dpi"),
            "stored_at": record["stored_at"],
        }

    @staticmethod
    def file_key(image_ref: str, variant: str, print_size: str | None) -> str:
        """A file's key: the image_ref for an original (as before 1.6), else with its variant."""
        if variant == "original":
            return image_ref
        if variant == "print":
            return f"{image_ref}/print/{print_size}"
        return f"{image_ref}/{variant}"

    @classmethod
    def record_key(cls, record: dict[str, Any]) -> str:
        variant = record.get("variant") or "original"
        return cls.file_key(record["image_ref"], variant, record.get("print_size"))

    @staticmethod
    def file_store(order: dict[str, Any], variant: str) -> dict[str, Any]:
        """Where an order keeps a variant's records: originals in ``images`` (they are the
        images the order counts), every other variant apart in ``variants``."""
        if variant == "original":
            return order["images"]
        return order.setdefault("variants", {})

    @staticmethod
    def files(order: dict[str, Any]) -> list[dict[str, Any]]:
        """Every stored file of an order: by image_ref, then original, edited, prints."""
        rank = {"original": 0, "edited": 1, "print": 2}
        records = [*order["images"].values(), *order.get("variants", {}).values()]
        return sorted(
            records,
            key=lambda r: (
                r["image_ref"],
                rank.get(r.get("variant") or "original", 3),
                r.get("print_size") or "",
            ),
        )

    @staticmethod
    def order_view(order: dict[str, Any]) -> dict[str, Any]:
        """An order as the contract's ``Order`` (without its images and files)."""
        view = {key: value for key, value in order.items() if key not in ("images", "variants")}
        view["image_count"] = len(order["images"])
        return view

    def state(self) -> dict[str, Any]:
        """For ``GET /_sim/state``: everything, with per-image write and PUT counts.

        ``images`` are the originals (one per image, as before variants); ``files`` every
        stored file (original, edited, prints) with its own ``writes`` (times its bytes were
        stored) and ``puts`` (PUT calls for it, stored or not); ``image_puts`` is keyed
        ``order_ref/image_ref`` for originals and ``order_ref/image_ref/variant[/size]``."""
        orders = []
        for ref, order in sorted(self.orders.items()):
            images = [
                {
                    "image_ref": image_ref,
                    "sha256": record["sha256"],
                    "size": record["size"],
                    "content_type": record["content_type"],
                    "filename": record["filename"],
                    "metadata": record["metadata"],
                    "stored_at": record["stored_at"],
                    "writes": record["writes"],
                    "puts": self.puts.get(f"{ref}/{image_ref}", 0),
                }
                for image_ref, record in sorted(order["images"].items())
            ]
            files = [
                {
                    "image_ref": record["image_ref"],
                    "variant": record.get("variant") or "original",
                    "print_size": record.get("print_size"),
                    "dpi": record.get("dpi"),
                    "sha256": record["sha256"],
                    "size": record["size"],
                    "content_type": record["content_type"],
                    "filename": record["filename"],
                    "stored_at": record["stored_at"],
                    "writes": record["writes"],
                    "puts": self.puts.get(f"{ref}/{self.record_key(record)}", 0),
                }
                for record in self.files(order)
            ]
            orders.append({**self.order_view(order), "images": images, "files": files})
        return {
            "events": sorted(self.events.values(), key=lambda e: e["event_id"]),
            "customers": sorted(self.customers.values(), key=lambda c: c["customer_id"]),
            "orders": orders,
            "image_puts": dict(self.puts),
            "idempotency_keys": len(self.idempotency),
            "deliveries": list(self.deliveries.values()),
        }
