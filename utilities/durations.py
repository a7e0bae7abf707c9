"""How long the steps of the work take (ingest, the AI step, PMR calls), counted in Redis.

The steps run in Celery workers, separate processes (prefork children, other containers) that
nobody scrapes; ``/metrics`` is answered by the web process. So a worker that finishes a step
adds the duration to a histogram kept in Redis (one hash per step: a count per bucket and
labels, their sum), and the web's collector (``rkh_site/metrics.py``) reads the hashes when
Prometheus scrapes. Every worker of every host adds to the same numbers, and nothing else has
to listen on a port. prometheus_client's own multiprocess mode was the alternative: a
directory of files shared by the processes of one host only, cleaned up by hand.

The counts are cumulative as Prometheus expects; if Redis loses them (a restart without its
append-only file), they start again from zero, which ``rate()`` reads as a counter reset.
Recording never fails the work it measures: an unreachable Redis costs the observation only.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import redis

from .redis_clients import shared

log = logging.getLogger(__name__)

#: Upper bounds of the buckets, in seconds (the last, +Inf, is implied): from a PMR call of a
#: few tens of milliseconds to an image through three AI providers with fallbacks.
BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
#: Steps that are measured, each one Redis hash.
STEPS = ("ingest", "ai", "pmr_call")
KEY_PREFIX = "rkh:metrics:duration"
#: Seconds a recording may wait for Redis (a worker must not hang on its metrics).
REDIS_TIMEOUT = 2.0


def key(step: str) -> str:
    return f"{KEY_PREFIX}:{step}"


def _labels_field(labels: dict[str, str]) -> str:
    return ",".join(f"{name}={labels[name]}" for name in sorted(labels))


def _bucket_index(seconds: float) -> int:
    """Index of the first bucket the duration fits in (``len(BUCKETS)``: +Inf)."""
    for index, bound in enumerate(BUCKETS):
        if seconds <= bound:
            return index
    return len(BUCKETS)


def observe(step: str, seconds: float, **labels: str) -> None:
    """Count one ``step`` that took ``seconds``, under ``labels`` (few values each: an outcome,
    a kind). One MULTI of three increments; a Redis error is logged and forgotten."""
    observe_many(step, [(seconds, labels)])


def observe_many(step: str, observations: list[tuple[float, dict[str, str]]]) -> None:
    """Count several ``(seconds, labels)`` of ``step`` in one MULTI (one round trip to Redis
    whatever their number): for work that measures many short steps at once, such as the
    PMR drain's uploads, where a round trip per call sat on every upload's path. A Redis
    error is logged and forgotten."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}")
    if not observations:
        return
    try:
        with shared(timeout=REDIS_TIMEOUT).pipeline(transaction=True) as pipe:
            for seconds, labels in observations:
                seconds = max(0.0, float(seconds))
                prefix = _labels_field({name: str(value) for name, value in labels.items()})
                pipe.hincrby(key(step), f"{prefix}|b{_bucket_index(seconds)}", 1)
                pipe.hincrbyfloat(key(step), f"{prefix}|sum", seconds)
            pipe.execute()
    except redis.RedisError:
        log.warning("Could not record how long a step took (%s)", step, exc_info=True)


@dataclass
class Histogram:
    """One label set's histogram: cumulative counts per upper bound (+Inf last) and the sum."""

    labels: dict[str, str]
    buckets: list[tuple[float, int]] = field(default_factory=list)
    sum: float = 0.0

    @property
    def count(self) -> int:
        return self.buckets[-1][1] if self.buckets else 0


def read(step: str, client: redis.Redis | None = None) -> list[Histogram]:
    """Every label set recorded for ``step``, sorted by labels (raises ``redis.RedisError``)."""
    raw = (client or shared(timeout=REDIS_TIMEOUT)).hgetall(key(step))
    counts: dict[str, list[int]] = {}
    sums: dict[str, float] = {}
    for name, value in raw.items():
        prefix, _, part = name.decode().rpartition("|")
        if part == "sum":
            sums[prefix] = float(value)
        elif part.startswith("b") and part[1:].isdigit() and int(part[1:]) <= len(BUCKETS):
            counts.setdefault(prefix, [0] * (len(BUCKETS) + 1))[int(part[1:])] += int(value)
    histograms = []
    for prefix in sorted(counts.keys() | sums.keys()):
        per_bucket = counts.get(prefix, [0] * (len(BUCKETS) + 1))
        running, buckets = 0, []
        for bound, count in zip((*BUCKETS, math.inf), per_bucket, strict=True):
            running += count
            buckets.append((bound, running))
        labels = dict(pair.split("=", 1) for pair in prefix.split(",") if pair)
        histograms.append(Histogram(labels=labels, buckets=buckets, sum=sums.get(prefix, 0.0)))
    return histograms
