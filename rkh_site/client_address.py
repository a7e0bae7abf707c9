"""The client's address is the one the ASGI server decided: ``X-Forwarded-For`` is dropped.

Who may speak for a client is a deployment fact, so it is decided once, where the connection
arrives: uvicorn's proxy-headers support takes the address from ``X-Forwarded-For`` only when
the connecting peer is in ``FORWARDED_ALLOW_IPS`` (a trusted proxy, e.g. the compose stack's
own), and puts the result in ``REMOTE_ADDR``. Django then reads ``REMOTE_ADDR`` only — but
django-auditlog reads the raw header whenever it is present, so a client could write any
address into the audit log. This middleware, first in the stack, removes the header (and
its ``X-Real-IP`` cousin) before anything can read it: the per-IP sign-in limits (allauth,
which ignores the header by default), the anonymous API throttle and the audit log all see
the one address the server trusts.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

#: Request headers a client could use to claim another address.
CLIENT_CLAIMED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP")


class DropForwardedFor:
    """Remove client-claimed address headers; ``REMOTE_ADDR`` is what counts.

    Sync and async: under ASGI a sync-only middleware costs each request a hop to a thread
    and back (``rkh_site.async_middleware``)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.async_mode:
            return self.__acall__(request)
        _drop_claims(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        _drop_claims(request)
        return await self.get_response(request)


def _drop_claims(request: HttpRequest) -> None:
    for name in CLIENT_CLAIMED:
        request.META.pop(name, None)
    # ``request.headers`` is computed once from META: a middleware before this one that
    # read a header (the request id's) would have kept the claimed address in it.
    request.__dict__.pop("headers", None)
