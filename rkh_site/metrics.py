"""The product's own Prometheus metrics, read when Prometheus scrapes (a custom collector).

django-prometheus counts what every Django site has (requests, latencies, database and
cache calls) in the web process. What says whether *this* product keeps up lives elsewhere:
in Redis (Celery's queues, the circuit breakers, the step durations the workers record:
``utilities/durations.py``) and in PostgreSQL (the PMR outbox). Nothing of it is counted in
the web process, so nothing is kept here either: each scrape reads the present state, a
handful of cheap reads (list lengths, a hash per breaker and step, two indexed aggregates).

A source that cannot be read (Redis or the database away) leaves its metrics out of that
scrape and sets ``rkh_metrics_source_up{source}`` to 0; the rest are still answered.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from prometheus_client.utils import floatToGoString

from ai_processing import status as ai_status
from pmr import connection as pmr_connection
from pmr.models import OutboxEntry
from utilities import durations
from utilities.breakers import pmr_breaker
from utilities.redis_clients import client_for

log = logging.getLogger(__name__)

#: Seconds a scrape waits for Redis (Prometheus' own scrape timeout is 10 s by default).
REDIS_TIMEOUT = 2.0
#: The states a circuit can be in (``CircuitBreaker.state``); each is a series, 1 for the
#: current one ("unknown": its state could not be read).
CIRCUIT_STATES = ("closed", "open", "half_open", "unknown")
#: Histograms of the step durations: metric name, help, label names (``durations.STEPS``).
DURATION_METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "ingest": (
        "rkh_ingest_duration_seconds",
        "Ingest of one image, from its start to its verdict, by the image's status after it.",
        ("outcome",),
    ),
    "ai": (
        "rkh_ai_duration_seconds",
        "The AI step of one image (every operation of its preset), by its status after it.",
        ("outcome",),
    ),
    "pmr_call": (
        "rkh_pmr_call_duration_seconds",
        "One call to the PMR, by outbox kind and outcome (ok, retryable, refused).",
        ("kind", "outcome"),
    ),
}


def queue_names() -> list[str]:
    """Every Celery queue the settings name: the default, the routes' and the required ones."""
    names = {settings.CELERY_TASK_DEFAULT_QUEUE, *settings.CELERY_REQUIRED_QUEUES}
    names |= {
        route["queue"]
        for route in getattr(settings, "CELERY_TASK_ROUTES", {}).values()
        if isinstance(route, dict) and route.get("queue")
    }
    return sorted(names)


class ProductCollector(Collector):
    """Queue depths, the PMR outbox, circuit breakers and step durations (module docstring)."""

    def describe(self) -> Iterator[Metric]:
        """The metric names, without reading anything: registering the collector at start
        would otherwise query the database and Redis (``REGISTRY`` calls ``collect`` to learn
        the names of a collector that does not describe itself)."""
        yield GaugeMetricFamily("rkh_metrics_source_up", "", labels=["source"])
        yield GaugeMetricFamily("rkh_celery_queue_length", "", labels=["queue"])
        yield GaugeMetricFamily("rkh_pmr_outbox_pending", "")
        yield GaugeMetricFamily("rkh_pmr_outbox_failed", "")
        yield GaugeMetricFamily("rkh_pmr_outbox_oldest_pending_age_seconds", "")
        yield GaugeMetricFamily("rkh_circuit_breaker_state", "", labels=["service", "state"])
        for name, _help, labels in DURATION_METRICS.values():
            yield HistogramMetricFamily(name, "", labels=list(labels))

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "rkh_metrics_source_up",
            "1 when this scrape could read the source (redis, database), else 0: its "
            "metrics are missing from the scrape.",
            labels=["source"],
        )
        redis_ok, database_ok = True, True
        try:
            yield from self._redis_metrics()
        except (redis.RedisError, ValueError):
            log.warning("Metrics: Redis could not be read", exc_info=True)
            redis_ok = False
        try:
            yield from self._outbox_metrics()
        except DatabaseError:
            log.warning("Metrics: the database could not be read", exc_info=True)
            database_ok = False
        up.add_metric(["redis"], 1 if redis_ok else 0)
        up.add_metric(["database"], 1 if database_ok else 0)
        yield up

    # --- Redis: queues, circuits, durations ---------------------------------------------

    def _redis_metrics(self) -> Iterator[Metric]:
        """All of Redis first, then yielded: a Redis that fails half-way yields nothing."""
        broker = client_for(settings.CELERY_BROKER_URL, timeout=REDIS_TIMEOUT)
        queues = GaugeMetricFamily(
            "rkh_celery_queue_length",
            "Tasks waiting in the Celery queue (its Redis list), not yet taken by a worker.",
            labels=["queue"],
        )
        for name in queue_names():
            queues.add_metric([name], broker.llen(name))
        metrics: list[Metric] = [queues, self._circuits()]
        for step, (name, help_text, labels) in DURATION_METRICS.items():
            family = HistogramMetricFamily(name, help_text, labels=list(labels))
            for histogram in durations.read(step):
                if set(histogram.labels) != set(labels):
                    continue  # recorded under other labels by an older or newer release
                family.add_metric(
                    [histogram.labels[label] for label in labels],
                    [(_le(bound), count) for bound, count in histogram.buckets],
                    histogram.sum,
                )
            metrics.append(family)
        yield from metrics

    def _circuits(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "rkh_circuit_breaker_state",
            "Circuit of each AI provider and of the PMR: 1 for its current state "
            "(closed: calls go through; open: refused during the cool-down; half_open: one "
            "probe allowed).",
            labels=["service", "state"],
        )
        states: list[dict[str, Any]] = list(ai_status.provider_states())
        pmr_state = pmr_breaker(timeout=REDIS_TIMEOUT).state(pmr_connection.BREAKER_NAME)
        states.append(pmr_state)
        for state in states:
            current = state.get("state", "unknown")
            for name in CIRCUIT_STATES:
                family.add_metric([state["provider"], name], 1 if name == current else 0)
        return family

    # --- PostgreSQL: the PMR outbox -------------------------------------------------------

    def _outbox_metrics(self) -> Iterator[Metric]:
        # Two queries, each on its partial index (pending rows; failed rows), never a scan of
        # the done rows, which pile up for as long as the installation lives.
        numbers = OutboxEntry.objects.filter(state=OutboxEntry.State.PENDING).aggregate(
            pending=Count("id"), oldest=Min("created_at")
        )
        numbers["failed"] = OutboxEntry.objects.filter(state=OutboxEntry.State.FAILED).count()
        age = (
            max(0.0, (timezone.now() - numbers["oldest"]).total_seconds())
            if numbers["oldest"] is not None
            else 0.0
        )
        yield GaugeMetricFamily(
            "rkh_pmr_outbox_pending",
            "PMR writes waiting to be sent (outbox rows pending).",
            value=numbers["pending"],
        )
        yield GaugeMetricFamily(
            "rkh_pmr_outbox_failed",
            "PMR writes the PMR refused, waiting for a person (outbox rows failed).",
            value=numbers["failed"],
        )
        yield GaugeMetricFamily(
            "rkh_pmr_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending PMR write (0: none pending).",
            value=age,
        )


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else floatToGoString(bound)


_registered: ProductCollector | None = None


def register() -> None:
    """Add the collector to prometheus_client's registry once per process (``apps.ready``)."""
    global _registered
    if _registered is None:
        _registered = ProductCollector()
        REGISTRY.register(_registered)
