"""ASGI entry point: HTTP goes to Django, WebSockets to Channels consumers.

WebSocket handshakes pass, from the outside in: the origin check against
``ALLOWED_HOSTS`` (a page of another site cannot open a socket with our
visitors' cookies; a program with an API key and no ``Origin`` is let through,
see ``ws_auth.OriginCheck``), the Django session user (``AuthMiddlewareStack``), and an
``Authorization: Api-Key`` header for programs (``accounts.ws_auth``), which
replaces the session user when present. Consumers apply the same access rule
as pages to ``scope["user"]``.

HTTP requests under ``/api/`` are served by Django's WSGI handler in a thread pool, the
rest by its ASGI handler (``rkh_site.api_over_wsgi``).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rkh_site.settings")

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from .checks import refuse_unsafe_start  # noqa: E402

# The ASGI server runs no system checks: a production web process with published PMR
# secrets stops here instead of serving (rkh_site.checks).
refuse_unsafe_start()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.ws_auth import ApiKeyAuthMiddleware, OriginCheck  # noqa: E402

from .api_over_wsgi import http_application  # noqa: E402
from .routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http_application(django_asgi_app),
        "websocket": OriginCheck(
            AuthMiddlewareStack(ApiKeyAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
