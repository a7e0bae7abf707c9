"""Async-capable versions of the two sync-only middlewares of third-party packages.

Under ASGI Django runs the middleware chain as coroutines and hops to a thread for every
sync-only middleware (``sync_to_async``) and back (``async_to_sync``) for what comes after
it. WhiteNoise and django-auditlog are sync-only, and with ``DropForwardedFor`` they cost
every request three round trips between the event loop and the one thread Django's sync
code runs in, which queue behind each other when the process is busy (docs/benchmarks.md,
"API"). These subclasses do the same work in both modes; only what may touch the database
or the disk still runs in a thread.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from auditlog.cid import set_cid
from auditlog.context import set_extra_data
from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFiles(WhiteNoiseMiddleware):
    """WhiteNoise; under ASGI a request that is not for a static file never leaves the loop."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, settings=settings) -> None:
        super().__init__(get_response, settings=settings)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        if self.autorefresh:  # development: looks at the disk
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:  # production: a dict made at start-up
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        return await self.get_response(request)


class Auditlog(AuditlogMiddleware):
    """django-auditlog's request context (actor, address, correlation id) in both modes.

    The actor is the session's user; finding it reads the session, which only a request
    with a session cookie has: such a request looks it up in a thread, one without (an API
    key's, or anonymous) knows it is anonymous without any I/O.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None) -> None:
        super().__init__(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        set_cid(request)
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            context_data = await sync_to_async(self.get_extra_data)(request)
        else:
            context_data = self.get_extra_data(request)
        with set_extra_data(context_data=context_data):
            return await self.get_response(request)
