"""Health: ``GET /healthz`` (cheap, for load balancers) and ``GET /healthz/ready`` (detailed).

``/healthz`` asks the database and Redis (one short ping each, side by side) and answers 200
or 503 with ``{"status"}`` only: an anonymous caller learns nothing about the inside (no
vendor, no worker names). Staff and holders of ``HEALTH_TOKEN`` also get which part fails.

``/healthz/ready`` adds the Celery workers, one for every required queue, and names what is
missing: a queue with no worker is the classic "tasks stuck forever" failure, so it is named
here rather than discovered by a user waiting on a frozen progress bar. Asking the workers
takes about a second (a broadcast and its replies), which is why the cheap check leaves it
out; this view is for staff (signed in) and for monitors sending
``Authorization: Bearer <HEALTH_TOKEN>``.
"""

from __future__ import annotations

import hmac
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from utilities.json_views import json_error
from utilities.redis_clients import shared

from .celery import app as celery_app

CELERY_TIMEOUT_SECONDS = 1.0


#: Seconds the database check waits to connect and for its query: /healthz answers within a
#: second or two when the database is away (the compose health check gives it 5 s; the
#: pool's own wait for a connection is 30 s).
DATABASE_TIMEOUT_SECONDS = 1


def check_database() -> dict[str, Any]:
    """``SELECT 1`` on a connection of its own with a short timeout (PostgreSQL), not one
    from the pool: with the database unreachable the pool would wait its full timeout."""
    try:
        if connection.vendor == "postgresql":
            _ping_postgresql()
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


def _in_thread(check):
    """Run a check on a pool thread; its own database connection is closed afterwards."""
    try:
        return check()
    finally:
        connection.close()


def _ping_postgresql() -> None:
    import psycopg

    params = connection.get_connection_params()
    params["connect_timeout"] = DATABASE_TIMEOUT_SECONDS
    options = params.get("options", "")
    params["options"] = f"{options} -c statement_timeout={DATABASE_TIMEOUT_SECONDS * 1000}".strip()
    with psycopg.connect(**params) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> dict[str, Any]:
    try:
        shared(timeout=1).ping()  # a probe waits one second at most
    except redis.RedisError as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def check_workers() -> dict[str, Any]:
    """Ask the workers which queues they consume; name each required queue nobody serves."""
    try:
        inspector = celery_app.control.inspect(timeout=CELERY_TIMEOUT_SECONDS)
        queues_by_worker = inspector.active_queues() or {}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "workers": [], "missing_queues": []}
    served = {q["name"] for queues in queues_by_worker.values() for q in queues}
    missing = [q for q in settings.CELERY_REQUIRED_QUEUES if q not in served]
    return {
        "ok": bool(queues_by_worker) and not missing,
        "workers": sorted(queues_by_worker),
        "missing_queues": missing,
    }


def _detail_allowed(request) -> bool:
    """Staff (signed in), or a monitor with the configured token."""
    token = settings.HEALTH_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def _run_checks(*, workers: bool) -> tuple[dict[str, dict[str, Any]], list[str]]:
    # The database is checked beside the rest, not before it: an unreachable database takes
    # its whole connect timeout (libpq's shortest is 2 s), and the answer must come within
    # a second or two whatever is down.
    with ThreadPoolExecutor(max_workers=1) as pool:
        database = pool.submit(_in_thread, check_database)
        checks = {"redis": check_redis()}
        if workers:
            # Asking workers needs the broker; without Redis it could only time out.
            checks["celery"] = (
                check_workers()
                if checks["redis"]["ok"]
                else {
                    "ok": False,
                    "error": "redis unavailable",
                    "workers": [],
                    "missing_queues": [],
                }
            )
        checks = {"database": database.result(), **checks}
    return checks, [name for name, result in checks.items() if not result["ok"]]


def _answer(checks: dict, failing: list[str], started: float, *, detail: bool) -> JsonResponse:
    body: dict[str, Any] = {"status": "ok" if not failing else "unavailable"}
    if detail:
        body |= {
            "failing": failing,
            "checks": checks,
            "elapsed_ms": round((time.monotonic() - started) * 1000),
        }
    return JsonResponse(body, status=200 if not failing else 503)


@never_cache
@require_GET
def healthz(request) -> JsonResponse:
    """Liveness of the web process and what it cannot serve without: database and Redis."""
    started = time.monotonic()
    checks, failing = _run_checks(workers=False)
    return _answer(checks, failing, started, detail=_detail_allowed(request))


@never_cache
@require_GET
def ready(request) -> JsonResponse:
    """Everything the product needs, workers included, named; staff or ``HEALTH_TOKEN`` only."""
    if not _detail_allowed(request):
        user = getattr(request, "user", None)
        signed_in = bool(user is not None and user.is_authenticated)
        message = "Readiness details are for staff, or for a monitor with the health token."
        code = "forbidden" if signed_in else "not_authenticated"
        response = json_error(403 if signed_in else 401, message, code)
        if not signed_in:
            response["WWW-Authenticate"] = 'Bearer realm="health"'
        return response
    started = time.monotonic()
    checks, failing = _run_checks(workers=True)
    return _answer(checks, failing, started, detail=True)
