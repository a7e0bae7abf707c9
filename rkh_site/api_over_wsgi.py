"""The REST API through Django's WSGI handler in a pool of threads, inside the ASGI server.

Under ASGI, Django runs every synchronous view of a process in one and the same thread
(``sync_to_async(thread_sensitive=True)``), so while one API request waits for PostgreSQL
the process's other API requests wait for it. The API's views are all synchronous (DRF), and
polling integrations send many at once: with 50 clients the ASGI handler gave 123 req/s for
an order's detail where the WSGI handler, each request in a thread of its own, gave 316 on
the same two cores (docs/benchmarks.md, "API"). So ``/api/`` is served by
``rkh_site.wsgi``'s application through a2wsgi (a thread pool of ``API_WSGI_THREADS``), in
the same uvicorn process and port as before: pages, static files and WebSockets stay on the
ASGI handler, and the deployment (Procfile, compose, ``make run``) does not change.

Each WSGI request runs start to end in one pool thread, so its database connection comes
from the pool (``DB_POOL_MAX_SIZE``) and goes back when the request ends, as under ASGI.
The middleware stack is the same (Django builds it for either handler);
``API_WSGI_THREADS=0`` serves the API by the ASGI handler again.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

#: What goes to the WSGI handler: the REST API (synchronous DRF views only).
API_PREFIX = "/api/"


def http_application(asgi_app: Any) -> Any:
    """The HTTP application: ``/api/`` through WSGI threads, everything else ``asgi_app``."""
    threads = getattr(settings, "API_WSGI_THREADS", 0)
    if threads <= 0:
        return asgi_app
    from a2wsgi import WSGIMiddleware
    from django.core.wsgi import get_wsgi_application

    api_app = WSGIMiddleware(get_wsgi_application(), workers=threads)

    async def http(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await api_app(scope, receive, send)
        else:
            await asgi_app(scope, receive, send)

    return http
