"""The REST API, version 1: mounted at ``/api/v1/`` by ``rkh_site.urls``.

Each app keeps its viewsets and router in its own ``api.py``; this module only
puts their routes together. Any other path under ``/api/v1/`` answers a JSON
404 in the API's error shape (never an HTML page).
"""

from __future__ import annotations

from django.urls import include, path, re_path
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from orders.api import router as orders_router

app_name = "api"


class NoSuchEndpoint(APIView):
    """Every method on an unknown API path: 404, in the error shape."""

    permission_classes = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound(f"No API endpoint at {request.path[:200]}.")


urlpatterns = [
    path("", include(orders_router.urls)),
    path("", include("ai_processing.api")),
    re_path(r"^.*$", NoSuchEndpoint.as_view(), name="not-found"),
]
