"""WebSocket URL routes of every app, gathered in one list for the ASGI router."""

from notifications.routing import websocket_urlpatterns as notification_routes
from orders.routing import websocket_urlpatterns as order_routes

websocket_urlpatterns = [*order_routes, *notification_routes]
