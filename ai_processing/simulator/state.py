"""Mutable state of the simulator: faults, counters, sessions (no Django)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Faults:
    latency: float = 0.0  # seconds per task (jittered 0.5x-1.5x so answers come out of order)
    error_rate: float = 0.0  # share of tasks answered with a provider error
    drop_rate: float = 0.0  # share of task batches after which the socket is closed
    auth_fail: bool = False  # reject every authentication
    capacity_errors: int = 0  # answer the next N tasks with a capacity error (timeoutProvider)

    def update(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key not in self.__dataclass_fields__:
                raise ValueError(f"unknown fault {key!r}")
            kind = type(getattr(self, key))
            setattr(self, key, kind(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Session:
    """A connectionSessionUUID: outlives its sockets, buffers results while disconnected."""

    uuid: str
    ws: Any = None
    lock: Any = None  # the current socket's send lock
    buffer: list[tuple[float, dict]] = field(default_factory=list)

    def take_buffer(self, ttl: float) -> list[dict]:
        now = time.monotonic()
        kept = [msg for at, msg in self.buffer if now - at <= ttl]
        self.buffer.clear()
        return kept


@dataclass
class Stats:
    tasks: Counter = field(default_factory=Counter)  # tasks run, by taskType
    runs: Counter = field(default_factory=Counter)  # runs per taskUUID (must all be 1)
    errors: Counter = field(default_factory=Counter)  # errors sent, by code
    connections: int = 0
    open_connections: int = 0
    resumes: int = 0
    auth_ok: int = 0
    auth_failed: int = 0
    pings: int = 0
    drops: int = 0
    buffered: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tasks"] = dict(self.tasks)
        data["errors"] = dict(self.errors)
        data["tasks_total"] = sum(self.tasks.values())
        data["duplicate_runs"] = sum(1 for n in self.runs.values() if n > 1)
        del data["runs"]
        return data
