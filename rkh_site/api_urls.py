"""The REST API, version 1: mounted at ``/api/v1/`` by ``rkh_site.urls``.

Also the OpenAPI schema (``schema/``) and its interactive docs (``docs/``).

Each app keeps its viewsets and router in its own ``api.py``; this module only
puts their routes together. Any other path under ``/api/v1/`` answers a JSON
404 in the API's error shape (never an HTML page).
"""

from __future__ import annotations

from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from events.api import router as events_router
from orders.api import router as orders_router

app_name = "api"


class NoSuchEndpoint(APIView):
    """Every method on an unknown API path: 404, in the error shape."""

    permission_classes = ()
    schema = None  # not an endpoint of the schema

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound(f"No API endpoint at {request.path[:200]}.")


class SchemaView(SpectacularAPIView):
    """The schema (YAML; ``?format=json`` for JSON), made once per process, with its errors in
    the API's JSON shape.

    Generating it walks every view and serializer (about a second of CPU): an
    open endpoint that did that per request would be a cheap way to load the
    server. It only changes with the code, so each process keeps the first one.
    The OpenAPI renderers would send a 401 or 429 body as
    ``application/vnd.oai.openapi``: errors are rendered as JSON instead.
    """

    _schemas: dict[str | None, dict] = {}

    def _get_schema_response(self, request):
        if request.GET.get("lang"):  # a translated schema: rare, not cached
            return super()._get_schema_response(request)
        version = self.api_version or request.version or self._get_version_parameter(request)
        schema = self._schemas.get(version)
        if schema is None:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            schema = generator.get_schema(request=request, public=self.serve_public)
            self._schemas[version] = schema
        filename = self._get_filename(request, version)
        return Response(
            data=schema, headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400 and isinstance(response, Response):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
            response.content_type = "application/json"
        return response


urlpatterns = [
    path("", include("orders.timeline_api")),  # live status polling: timeline?after=, dashboard
    path("", include("orders.print_api")),  # before the router: orders/<ref>/prints
    path("", include(orders_router.urls)),
    path("", include(events_router.urls)),
    path("", include("accounts.api")),
    path("", include("ai_processing.api")),
    path("", include("ai_processing.approval_api")),  # orders/{ref}/approve, …/reject
    path("", include("pmr.api")),
    path("", include("notifications.api")),
    # OpenAPI 3 schema and its interactive docs (assets from drf-spectacular-sidecar, offline).
    re_path(r"^schema/?$", SchemaView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    # Its page keeps one inline <style> (drf-spectacular's template): allowed there only.
    re_path(
        r"^docs/?$",
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api:schema")
        ),
        name="docs",
    ),
    re_path(r"^.*$", NoSuchEndpoint.as_view(), name="not-found"),
]
