"""The Celery app: settings come from Django's settings under the ``CELERY_`` prefix."""

from __future__ import annotations

import inspect
import logging
import os
from contextvars import Token
from functools import lru_cache
from typing import Any

from celery import Celery, Task, signals
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from utilities import log_context

from . import kombu_fixes, native_threads, worker_exit  # noqa: F401 (native_threads: first)
from .checks import refuse_unsafe_start

log = logging.getLogger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rkh_site.settings")
# Workers survive a Redis restart (kombu's restore of unacknowledged messages on a detached
# connection raised AttributeError and ended the worker): see rkh_site/kombu_fixes.py.
kombu_fixes.apply()
# A worker that met an unrecoverable error exits even when its pool hangs: the supervisor
# restarts it (rkh_site/worker_exit.py).
worker_exit.apply()

app = Celery("rkh_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_unsafe_start(**kwargs) -> None:
    """A production worker or beat with published PMR secrets stops before taking work.

    Celery runs no Django system checks, and it logs (and ignores) an ``Exception`` raised by a
    signal receiver, so the refusal leaves as ``SystemExit``, which it does not catch.
    """
    try:
        refuse_unsafe_start()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"Refusing to start: {exc}") from exc


# --- log lines of a task name its order ---------------------------------------------------
# The request id comes with the task's message (django-guid's Celery integration); the order
# is looked up here from the task's own argument, so that no task has to bind it itself.

#: The order each running task was bound to, by task id (reset when the task ends).
_bound: dict[str, Token] = {}


@lru_cache(maxsize=256)
def _parameters(task_name: str, run: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(run)
    except (TypeError, ValueError):
        return None


def order_ref_of(task: Task, args: tuple, kwargs: dict) -> str | None:
    """The ``order_ref`` of the order a task works on (by its ``order_id`` or ``image_id``
    parameter), or None: another kind of task, a deleted row, or a database that does not
    answer (the task meets that itself and retries; the log line just names no order)."""
    signature = _parameters(task.name, task.run)
    if signature is None:
        return None
    try:
        arguments = signature.bind_partial(*(args or ()), **(kwargs or {})).arguments
    except TypeError:
        return None
    # Models: the Celery app module is imported before Django's apps are ready.
    from orders.models import Image, Order

    try:
        if isinstance(arguments.get("order_id"), int):
            rows = Order.objects.filter(pk=arguments["order_id"]).values_list("order_ref")
        elif isinstance(arguments.get("image_id"), int):
            rows = Image.objects.filter(pk=arguments["image_id"]).values_list("order__order_ref")
        else:
            return None
        found = rows.first()
    except DatabaseError:
        log.debug("No order reference for task %s: the database did not answer", task.name)
        return None
    return found[0] if found else None


@signals.task_prerun.connect
def _bind_order_ref(
    task_id: str = "", task: Task | None = None, args: tuple = (), kwargs: dict | None = None, **_
) -> None:
    if task is None:
        return
    _bound[task_id] = log_context.bind_order_ref(order_ref_of(task, args, kwargs or {}))


@signals.task_postrun.connect
def _unbind_order_ref(task_id: str = "", **_) -> None:
    token = _bound.pop(task_id, None)
    if token is not None:
        log_context.reset_order_ref(token)


@signals.worker_init.connect
def _warm_up(**kwargs) -> None:
    """Build at start what a worker's first task would otherwise build, in the first order's
    time: the pipeline's stages (imported from ``PIPELINE_STAGES``; a name that does not
    import stops the worker here, not at the first order) and the PMR client (its HTTP
    client and TLS context, some 20 ms). Nothing is connected: prefork's children are forked
    after this and share no socket."""
    from orders import pipeline
    from pmr import connection

    try:
        pipeline.stages()
    except ImportError as exc:
        raise SystemExit(f"Refusing to start: PIPELINE_STAGES names {exc}") from exc
    connection.client()
