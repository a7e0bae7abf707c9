"""The OpenAPI schema: it renders, validates, names every endpoint with its bodies and errors;
the docs page works offline."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from .conftest import API

#: The product's endpoints (path, method) as the schema names them.
EXPECTED = {
    ("/api/v1/orders", "get"),
    ("/api/v1/orders", "post"),
    ("/api/v1/orders/{order_ref}", "get"),
    ("/api/v1/orders/{order_ref}", "put"),
    ("/api/v1/orders/{order_ref}", "patch"),
    ("/api/v1/orders/{order_ref}", "delete"),
    ("/api/v1/orders/{order_ref}/history", "get"),
    ("/api/v1/orders/{order_ref}/images", "get"),
    ("/api/v1/orders/{order_ref}/images", "post"),
    ("/api/v1/orders/{order_ref}/images/{id}", "get"),
    ("/api/v1/orders/{order_ref}/timeline", "get"),
    ("/api/v1/events", "get"),
    ("/api/v1/events", "post"),
    ("/api/v1/events/{event_id}", "get"),
    ("/api/v1/events/{event_id}", "put"),
    ("/api/v1/events/{event_id}", "patch"),
    ("/api/v1/events/{event_id}/orders", "get"),
    ("/api/v1/ai/process", "post"),
    ("/api/v1/ai/analyze", "post"),
    ("/api/v1/ai/generate", "post"),
    ("/api/v1/ai/models", "get"),
    ("/api/v1/ai/status", "get"),
    ("/api/v1/auth/login", "post"),
    ("/api/v1/auth/logout", "post"),
    ("/api/v1/users/profile", "get"),
    ("/api/v1/users/settings", "put"),
}
CREATES = {
    ("/api/v1/orders", "post"),
    ("/api/v1/orders/{order_ref}/images", "post"),
    ("/api/v1/events", "post"),
}
METHODS = {"get", "post", "put", "patch", "delete"}
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get(f"{API}/schema/")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    return yaml.safe_load(response.content)


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_json_format_is_the_same_schema(schema):
    response = APIClient().get(f"{API}/schema/?format=json")
    assert response.status_code == 200
    assert json.loads(response.content) == schema


def test_every_endpoint_is_in_the_schema(schema):
    present = {(path, method) for path, method, _ in _operations(schema)}
    assert present >= EXPECTED, sorted(EXPECTED - present)


def test_every_routed_api_view_is_in_the_schema(schema):
    """Nothing routed under /api/v1/ is missing from the schema (a new app's router too)."""
    from drf_spectacular.generators import EndpointEnumerator

    from utilities.api.schema import preprocess_paths

    endpoints = preprocess_paths(EndpointEnumerator().get_api_endpoints())
    routed = {
        # drf-spectacular names a primary key "id" in paths.
        (path.replace("{pk}", "{id}"), method.lower())
        for path, _, method, callback in endpoints
        if path.startswith("/api/v1/")
        and path not in ("/api/v1/schema", "/api/v1/docs")
        and getattr(callback.cls, "schema", True) is not None
    }
    present = {(path, method) for path, method, _ in _operations(schema)}
    assert routed <= present, sorted(routed - present)


def test_every_operation_documents_the_error_shape(schema):
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        wanted = {"400", "401", "403", "404", "429", "default"}
        if method != "get":
            wanted.add("409")
        missing = wanted - set(responses)
        assert not missing, (method, path, missing)
        for code in wanted:
            content = responses[code]["content"]["application/json"]["schema"]
            assert content == {"$ref": ERROR_REF}, (method, path, code, content)


def test_every_operation_has_a_success_body_and_request_bodies_are_described(schema):
    for path, method, operation in _operations(schema):
        successes = {c: r for c, r in operation["responses"].items() if c.startswith("2")}
        assert successes, (method, path)
        for code, response in successes.items():
            if code != "204":
                assert response.get("content"), (method, path, code)
        body = operation.get("requestBody", {}).get("content", {})
        assert all(media.get("schema") for media in body.values()), (method, path)
        # The product's writes all take a body (logout is a bare POST).
        writes = {"post", "put", "patch"}
        if (path, method) in EXPECTED and method in writes and path != "/api/v1/auth/logout":
            assert body, (method, path)


def test_error_component_is_the_one_error_shape(schema):
    components = schema["components"]["schemas"]
    error = components["Error"]
    assert error["required"] == ["error"]
    prop = error["properties"]["error"]
    inner_ref = prop["$ref"] if "$ref" in prop else prop["allOf"][0]["$ref"]
    inner = components[inner_ref.rsplit("/", 1)[1]]
    assert set(inner["properties"]) == {"code", "message", "details"}
    assert set(inner["required"]) == {"code", "message", "details"}
    assert inner["properties"]["details"]["type"] == "object"


def test_api_keys_are_a_security_scheme_of_every_protected_operation(schema):
    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    for path, method, operation in _operations(schema):
        if (path, method) not in EXPECTED or path == "/api/v1/auth/login":
            continue  # sign-in is open; the PMR webhook has its own signature
        names = {name for requirement in operation.get("security", []) for name in requirement}
        assert "ApiKeyAuth" in names, (method, path)


def test_creates_document_the_idempotency_key(schema):
    for path, method, operation in _operations(schema):
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) is ((path, method) in CREATES), (method, path)


def test_lists_document_cursor_pages_filters_and_ordering(schema):
    operation = schema["paths"]["/api/v1/orders"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert {"cursor", "page_size", "ordering", "status", "event", "search"} <= set(params)
    assert set(params["ordering"]["schema"]["enum"]) == {
        "created_at",
        "-created_at",
        "order_date",
        "-order_date",
    }
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    paged = schema["components"]["schemas"][page.rsplit("/", 1)[1]]
    assert {"next", "previous", "results"} <= set(paged["properties"])


# --- docs page --------------------------------------------------------------------------------


def test_docs_page_loads_with_local_assets_only(db):
    response = APIClient().get(f"{API}/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html[:500]
    # Swagger UI's start-up script is a file of its own (no inline script: the page's CSP).
    (start_up,) = [url for url in urls if url.startswith(f"{API}/docs/")]
    script = APIClient().get(start_up)
    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]
    assert "/api/v1/schema" in script.content.decode()
    assert "<script>" not in html
    for url in urls:
        if url == start_up:
            continue
        assert url.startswith("/static/"), url  # never a CDN
        assert finders.find(url.removeprefix("/static/")), url  # and shipped with the project
    assert "cdn." not in html.lower()
    assert "https://" not in html.replace("https://swagger.io", "")
