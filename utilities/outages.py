"""Answering while Redis or the database is away: 503 with ``Retry-After``, never a 500.

A request that needs what is down (queueing work, a breaker or cache in Redis, a database
that does not answer) gets ``503 Service Unavailable`` and ``Retry-After`` seconds, in the
API's error shape under ``/api/`` and as a short page elsewhere. Everything that does not
need it keeps working: the API's rate limit fails open (``rkh_site.api_throttling``) and
sessions fall back to the database (``rkh_site.sessions``), so reads that only need the
database are answered while Redis restarts.

``server_error`` is the project's ``handler500``: Django calls it with the exception being
handled (``sys.exc_info()``), whether it came from a view or a middleware, so one place
turns every outage into a 503. DRF views answer through ``utilities.api.errors``, which
does the same.
"""

from __future__ import annotations

import logging
import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import server_error as django_server_error

from utilities.infrastructure import REDIS_ERRORS, is_transient

log = logging.getLogger(__name__)

#: Seconds a client should wait before trying again (a Redis restart with its append-only
#: file takes seconds; a database failover tens of seconds).
RETRY_AFTER_SECONDS = 30


def what_is_down(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, REDIS_ERRORS):
            return "Redis"
        seen = seen.__cause__ or seen.__context__
    return "the database"


def unavailable_message(exc: BaseException) -> str:
    return (
        f"The service is briefly unavailable ({what_is_down(exc)} is not answering); "
        f"please try again in {RETRY_AFTER_SECONDS} seconds."
    )


def server_error(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """``handler500``: 503 with ``Retry-After`` for an outage, Django's 500 page otherwise."""
    exc = sys.exc_info()[1]
    if exc is None or not is_transient(exc):
        return django_server_error(request, *args, **kwargs)
    log.warning("Answered 503 to %s %s: %r", request.method, request.path, exc)
    message = unavailable_message(exc)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "unavailable", "message": message, "details": {}}}, status=503
        )
    else:
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
