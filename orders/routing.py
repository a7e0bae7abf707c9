"""WebSocket routes of the orders app: live status (``orders.consumers``, docs/live.md)."""

from django.urls import re_path

from . import consumers
from .live import ORDER_REF

websocket_urlpatterns = [
    re_path(rf"^ws/orders/{ORDER_REF}/$", consumers.OrderConsumer.as_asgi()),
    re_path(r"^ws/dashboard/$", consumers.DashboardConsumer.as_asgi()),
]
