"""Outages of what the product runs on (Redis, the broker, the database), told apart from faults
of the work itself.

A brief Redis restart or a database failover says nothing about an image: the work is retried
(the task backs off and runs again), never recorded as the image's failure. ``TRANSIENT`` is the
one list of those errors; tasks retry on them (``retry_on_outage()``), the AI pipeline and ingest
re-raise them instead of failing the image, and the API answers them with 503 and
``Retry-After`` (``rkh_site.middleware``).

``queue_after_commit`` is how services hand work to the queues: after the commit, and a broker
that is away at that moment is logged rather than raised into the code that committed (the beat
sweeps find the work and queue it again: docs/deployment.md, "What survives what").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerError

log = logging.getLogger(__name__)

#: Redis is away (refused, reset, timed out, still loading its append-only file).
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
#: The database is away (Django's wrappers of the driver's errors).
DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
#: Celery could not hand a message to the broker (kombu wraps the Redis error in this).
BROKER_ERRORS: tuple[type[BaseException], ...] = (BrokerError,)
#: Every error that means "try again later", never "this input is bad".
TRANSIENT: tuple[type[BaseException], ...] = REDIS_ERRORS + DATABASE_ERRORS + BROKER_ERRORS


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is an outage rather than a fault of the work."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, TRANSIENT):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def retry_on_outage() -> dict[str, Any]:
    """Options of every task that must outlive an outage: retried with a growing, jittered
    delay of at most ``CELERY_RETRY_BACKOFF_MAX`` seconds, which the settings keep under half
    the broker's visibility timeout (a countdown longer than that would be delivered again by
    the Redis transport before it is due). Twelve retries outlast a Redis or database restart
    by minutes; after that the task fails and the sweeps take the work up again."""
    return {
        "autoretry_for": TRANSIENT,
        "retry_backoff": 2,
        "retry_backoff_max": int(settings.CELERY_RETRY_BACKOFF_MAX),
        "retry_jitter": True,
        "max_retries": 12,
    }


def queue_after_commit(send: Callable[[], Any], what: str) -> Callable[[], None]:
    """Call ``send`` (which queues a task) once the current transaction commits.

    The change is committed by then: a broker that cannot take the message must not undo or
    disturb it (deleting files of a committed image, failing the caller). The failure is
    logged; the beat sweeps (``orders.tasks.sweep_stuck_ingest``,
    ``ai_processing.tasks.sweep_stuck``, ``pmr.tasks.drain_due``) find work nobody queued and
    queue it. Returns the hook (so callers can mark it, as the PMR outbox does).
    """

    def hook() -> None:
        try:
            send()
        except TRANSIENT as exc:
            log.warning(
                "Could not queue %s (%s: %s); the sweep will", what, type(exc).__name__, exc
            )

    transaction.on_commit(hook)
    return hook


class CommitWatch:
    """Tells, after a ``transaction.atomic`` block, whether that block's work was committed.

    Create it first thing inside the block: its on-commit hook runs before any hook registered
    after it, so when a later hook raises (a broker that is away), the caller's clean-up can
    see that the rows are committed and must keep the files they point to.
    """

    def __init__(self) -> None:
        self.committed = False
        transaction.on_commit(self._mark)

    def _mark(self) -> None:
        self.committed = True
