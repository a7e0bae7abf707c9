"""WebSocket routes of the orders app (live order status arrives with its consumer)."""

websocket_urlpatterns: list = []
