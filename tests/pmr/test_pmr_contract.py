"""pmr/contract/pmr-v1.yaml is a valid OpenAPI 3.1 document, covers every call of
pmr-v1.md, and both sides keep it: every request the client sends and every answer the
simulator gives in a run of all client calls (errors included) validate with openapi-core, and
so does a webhook the simulator sends.
"""

from __future__ import annotations

import json
import re
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from aiohttp import web
from openapi_core import (
    OpenAPI,
    V31RequestValidator,
    V31ResponseValidator,
    V31WebhookRequestValidator,
)
from openapi_core.datatypes import RequestParameters
from openapi_core.security.exceptions import SecurityProviderError
from openapi_core.security.factories import SecurityProviderFactory
from openapi_core.security.providers import BaseProvider
from openapi_spec_validator import validate as validate_spec
from werkzeug.datastructures import Headers, ImmutableMultiDict

from pmr.clients import PMRClient, PMRError
from pmr.simulator import PMRSimulator
from utilities.simulation.background import BackgroundServer

CONTRACT = Path(__file__).resolve().parents[2] / "pmr" / "contract" / "pmr-v1.yaml"
WEDDING = "EVT-2026-WED-0142"
CLOSED = "EVT-2025-WED-0999"
#: Every call of /work/shared/protocols/pmr-v1.md (plus the image download its `url` needs).
CALLS = {
    ("post", "/oauth/token"),
    ("get", "/v1/health"),
    ("get", "/v1/events/{event_id}"),
    ("get", "/v1/customers/{customer_id}"),
    ("get", "/v1/customers"),
    ("put", "/v1/orders/{order_ref}"),
    ("put", "/v1/orders/{order_ref}/images/{image_ref}"),
    ("get", "/v1/orders/{order_ref}/images/{image_ref}"),
    ("patch", "/v1/orders/{order_ref}"),
    ("get", "/v1/orders/{order_ref}"),
    ("get", "/v1/orders"),
}
CODES = {
    "not_found",
    "validation_failed",
    "event_closed",
    "token_expired",
    "invalid_api_key",
    "idempotency_conflict",
    "rate_limited",
    "unavailable",
    "checksum_mismatch",
    "invalid_client",
}


# ---- openapi-core adapters for httpx --------------------------------------------------------


class BearerProvider(BaseProvider):
    """openapi-core leaves oauth2 unchecked; the contract's token travels as a bearer."""

    def __call__(self, parameters: RequestParameters) -> str:
        scheme, _, value = str(parameters.header.get("Authorization", "")).partition(" ")
        if scheme != "Bearer" or not value:
            raise SecurityProviderError("Missing bearer token.")
        return value


class ContractSecurity(SecurityProviderFactory):
    PROVIDERS = {**SecurityProviderFactory.PROVIDERS, "oauth2": BearerProvider}


class OpenAPIRequest:
    def __init__(self, request: httpx.Request) -> None:
        self.host_url = f"{request.url.scheme}://{request.url.netloc.decode()}"
        self.path = request.url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("Content-Type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(),
        )


class OpenAPIWebhookRequest:
    def __init__(self, name: str, headers: dict[str, str], body: bytes) -> None:
        self.name = name
        self.method = "post"
        self.body = body
        self.content_type = headers.get("Content-Type", "")
        self.parameters = RequestParameters(header=Headers(list(headers.items())))


class OpenAPIResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.data = response.content
        self.content_type = response.headers.get("Content-Type", "")
        self.headers = Headers(list(response.headers.multi_items()))


class RecordingTransport(httpx.BaseTransport):
    """Sends through a real transport and keeps every (request, response) pair, bodies read."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a streamed image body becomes bytes here, then is sent as such
        answer = self.inner.handle_request(request)
        try:
            body = answer.read()
        finally:
            answer.close()
        recorded = httpx.Response(
            answer.status_code, headers=answer.headers, content=body, request=request
        )
        self.exchanges.append((request, recorded))
        return recorded

    def close(self) -> None:
        self.inner.close()


# ---- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def contract() -> OpenAPI:
    return OpenAPI.from_file_path(str(CONTRACT))


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validators(contract):
    return (
        V31RequestValidator(contract.spec, security_provider_factory=ContractSecurity()),
        V31ResponseValidator(contract.spec),
    )


def problems(validators, request: httpx.Request, response: httpx.Response | None) -> list[str]:
    request_validator, response_validator = validators
    wrapped = OpenAPIRequest(request)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. an unsupported security scheme must not pass quietly
        found = [f"request: {e!r} {e.__cause__!r}" for e in request_validator.iter_errors(wrapped)]
        if response is not None:
            found += [
                f"response: {e!r} {e.__cause__!r}"
                for e in response_validator.iter_errors(wrapped, OpenAPIResponse(response))
            ]
    return found


# ---- the document -------------------------------------------------------------------------


def test_the_contract_is_valid_openapi_3_1(contract, document):
    validate_spec(document)
    assert document["openapi"].startswith("3.1")
    assert (contract.version.major, contract.version.minor) == ("3", "1")


def test_the_contract_has_every_call_of_the_protocol(document):
    declared = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete"}
    }
    assert declared == CALLS
    assert not any(path.startswith("/_sim") for path in document["paths"])
    codes = set(document["components"]["schemas"]["ErrorCode"]["enum"])
    assert codes >= CODES


def test_security_writes_and_limits_as_the_protocol_says(document):
    schemes = document["components"]["securitySchemes"]
    flows = schemes["pmrOAuth"]["flows"]["clientCredentials"]
    assert flows["tokenUrl"] == "/oauth/token"
    assert set(flows["scopes"]) == {"pmr.read", "pmr.write"}
    assert schemes["pmrApiKey"] == {**schemes["pmrApiKey"], "in": "header", "name": "X-API-Key"}
    token = document["paths"]["/oauth/token"]["post"]
    assert token["security"] == []
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert responses["429"]["$ref"] == "#/components/responses/RateLimited", path
            assert "503" in responses, (method, path)
            if path.startswith("/v1"):
                requirement = (operation.get("security") or document["security"])[0]
                assert set(requirement) == {"pmrOAuth", "pmrApiKey"}, (method, path)
            if method in {"put", "patch"}:
                refs = [p.get("$ref") for p in operation.get("parameters", [])]
                assert "#/components/parameters/IdempotencyKey" in refs, (method, path)
    rate_limited = document["components"]["responses"]["RateLimited"]
    assert rate_limited["headers"]["Retry-After"]["$ref"] == "#/components/headers/RetryAfter"
    assert document["components"]["headers"]["RetryAfter"]["required"] is True
    image = document["paths"]["/v1/orders/{order_ref}/images/{image_ref}"]["put"]
    names = {p.get("name") for p in image["parameters"]}
    assert {"X-Content-SHA256", "X-Filename", "X-Image-Metadata"} <= names


def test_the_webhook_is_described_with_its_signature_headers(document):
    webhook = document["webhooks"]["orderStatusChanged"]["post"]
    headers = {p["name"]: p for p in webhook["parameters"]}
    assert set(headers) == {"X-PMR-Event", "X-PMR-Delivery", "X-PMR-Timestamp", "X-PMR-Signature"}
    assert all(p["in"] == "header" and p["required"] for p in headers.values())
    schema = document["components"]["schemas"]["OrderStatusChangedEvent"]
    assert set(schema["required"]) == {"order_ref", "status", "status_reason", "changed_at"}


# ---- the validators can fail ---------------------------------------------------------------


def test_validators_catch_a_broken_request_and_answer(validators):
    request = httpx.Request(
        "GET", "http://127.0.0.1:1/v1/events/EVT-1", headers={"Authorization": "Bearer t"}
    )  # no X-API-Key
    assert any("Security" in p for p in problems(validators, request, None))
    good = httpx.Request(
        "GET",
        "http://127.0.0.1:1/v1/events/EVT-1",
        headers={"Authorization": "Bearer t", "X-API-Key": "k"},
    )
    assert problems(validators, good, None) == []
    missing_status = httpx.Response(
        200,
        json={"event_id": "EVT-1", "name": "n", "date": "2026-01-01", "type": "wedding",
              "customer_id": None},
    )  # fmt: skip
    assert problems(validators, good, missing_status)
    wrong_code = httpx.Response(404, json={"error": {"code": "gone", "message": "", "details": {}}})
    assert problems(validators, good, wrong_code)
    health = httpx.Request(
        "GET",
        "http://127.0.0.1:1/v1/health",
        headers={"Authorization": "Bearer t", "X-API-Key": "k"},
    )
    no_retry_after = httpx.Response(
        429, json={"error": {"code": "rate_limited", "message": "", "details": {}}}
    )
    assert problems(validators, health, no_retry_after)


# ---- both sides keep the contract ----------------------------------------------------------


def run_every_call(sim: PMRSimulator, transport: RecordingTransport) -> None:
    """All client calls, answered with success and with every error the contract lists."""
    options = {"transport": transport, "sleep": lambda _: None, "random": lambda: 0.5}
    client = PMRClient(sim.base_url, "demo-client", "demo-secret", "demo-api-key", **options)

    def refused(call, error=PMRError):
        with pytest.raises(error):
            call()

    with client:
        client.health()
        client.get_event(WEDDING)
        refused(lambda: client.get_event("EVT-NOPE"))
        client.get_customer("CUST-0142")
        refused(lambda: client.get_customer("CUST-NOPE"))
        client.find_customers("lena@example.com")
        body = {
            "event_id": WEDDING,
            "customer_id": "CUST-0142",
            "customer_name": "Lena Lindqvist",
            "customer_email": "lena@example.com",
            "order_date": "2026-11-01T10:00:00+01:00",
            "notes": "Album",
            "expected_image_count": 2,
            "metadata": {"preset": "wedding-warm"},
        }
        client.put_order("ORD-2026-000001", body, "o-1")  # 201
        client.put_order("ORD-2026-000001", body, "o-1")  # replayed 201
        client.put_order("ORD-2026-000001", {**body, "notes": None}, "o-2")  # 200
        refused(lambda: client.put_order("ORD-2026-000001", {"event_id": WEDDING}, "o-1"))  # 409
        refused(lambda: client.put_order("ORD-2026-000002", {"event_id": CLOSED}, "o-3"))  # 409
        refused(lambda: client.put_order("ORD-2026-000002", {"event_id": "EVT-NOPE"}, "o-4"))
        image = b"\xff\xd8\xff" + b"jpeg" * 500
        meta = {"caption": "First dance", "keywords": ["wedding", "dance"]}
        args = {"content_type": "image/jpeg", "filename": "Tanz 1.jpg", "metadata": meta}
        client.put_image("ORD-2026-000001", "IMG-1", image, idempotency_key="i-1", **args)
        client.put_image("ORD-2026-000001", "IMG-1", image, idempotency_key="i-1", **args)
        client.put_image("ORD-2026-000001", "IMG-1", image, idempotency_key="i-2", **args)
        refused(
            lambda: client.put_image(
                "ORD-2026-000001", "IMG-2", image, idempotency_key="i-3", sha256="0" * 64, **args
            )
        )
        refused(
            lambda: client.put_image("ORD-2026-NOPE", "IMG-1", image, idempotency_key="i-4", **args)
        )
        # Contract 1.6: the same image's edited file and a print rendition, each its own file.
        edited = b"\xff\xd8\xff" + b"edit" * 500
        client.put_image(
            "ORD-2026-000001",
            "IMG-1",
            edited,
            idempotency_key="i-5",
            variant="edited",
            dpi=240,
            **args,
        )
        client.put_image(
            "ORD-2026-000001",
            "IMG-1",
            edited,
            idempotency_key="i-6",
            variant="print",
            print_size="8x10",
            dpi=300,
            **args,
        )
        refused(  # the same key for another variant: 409 idempotency_conflict
            lambda: client.put_image(
                "ORD-2026-000001",
                "IMG-1",
                edited,
                idempotency_key="i-5",
                variant="original",
                **args,
            )
        )
        client.download_image("ORD-2026-000001", "IMG-1")
        client.download_image("ORD-2026-000001", "IMG-1", variant="edited")
        client.download_image("ORD-2026-000001", "IMG-1", variant="print", print_size="8x10")
        refused(
            lambda: client.download_image(
                "ORD-2026-000001", "IMG-1", variant="print", print_size="5x7"
            )
        )
        refused(lambda: client.download_image("ORD-2026-000001", "IMG-1", variant="print"))  # 422
        refused(lambda: client.download_image("ORD-2026-000001", "IMG-9"))
        client.patch_order_status("ORD-2026-000001", "processing", None, "s-1")
        refused(lambda: client.patch_order_status("ORD-2026-NOPE", "completed", "x", "s-2"))
        client.get_order("ORD-2026-000001")
        refused(lambda: client.get_order("ORD-2026-NOPE"))
        for n in range(2, 5):
            client.put_order(f"ORD-2026-00000{n}", {"event_id": WEDDING}, f"o-{n + 10}")
        since = datetime.now(UTC) - timedelta(hours=1)
        assert len(list(client.iter_orders_updated_since(since, page_size=2))) == 4
        sim.set_faults(fail_next=1, error_status=429, retry_after=1)
        client.health()
        sim.set_faults(fail_next=1, error_status=503)
        client.health()
        sim.set_faults(fail_next=1, error_status=500)
        client.health()
        sim.set_tokens(expire_all=True)
        client.health()  # 401 token_expired, new token, 200
    for wrong in ({"api_key": "wrong"}, {"client_secret": "wrong"}):
        credentials = {"client_secret": "demo-secret", "api_key": "demo-api-key", **wrong}
        with PMRClient(sim.base_url, "demo-client", **credentials, **options) as other:
            refused(other.health)


def test_every_request_and_answer_of_a_full_run_keeps_the_contract(validators):
    transport = RecordingTransport()
    with PMRSimulator() as sim:
        run_every_call(sim, transport)
    transport.close()
    exchanges = transport.exchanges
    failures = {
        f"{request.method} {request.url.path} → {response.status_code}": found
        for request, response in exchanges
        if (found := problems(validators, request, response))
    }
    assert failures == {}
    # The run really covered the contract: every call, and every status it can answer.
    assert {_template(request) for request, _ in exchanges} == CALLS
    statuses = {response.status_code for _, response in exchanges}
    assert statuses >= {200, 201, 401, 404, 409, 422, 429, 500, 503}
    codes = {
        response.json()["error"]["code"] for _, response in exchanges if response.status_code >= 400
    }
    assert codes >= CODES


def _template(request: httpx.Request) -> tuple[str, str]:
    """The contract call a recorded request belongs to."""
    method = request.method.lower()
    for call_method, template in CALLS:
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
        if call_method == method and re.fullmatch(pattern, request.url.path):
            return method, template
    return method, request.url.path


# ---- the webhook --------------------------------------------------------------------------


class CaptureCore:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.json_response({"status": "accepted"})


class Capture(BackgroundServer):
    thread_name = "webhook-capture"

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0)
        self.core = CaptureCore()


def test_the_webhook_the_simulator_sends_keeps_the_contract(contract):
    validator = V31WebhookRequestValidator(contract.spec)
    with (
        Capture() as capture,
        PMRSimulator(webhook_url=f"http://127.0.0.1:{capture.port}/hook") as sim,
    ):
        with PMRClient(sim.base_url, "demo-client", "demo-secret", "demo-api-key") as client:
            client.put_order("ORD-2026-000001", {"event_id": WEDDING}, "o-1")
        sim.send_webhook(order_ref="ORD-2026-000001", status="delivered")
        sim.send_webhook(order_ref="ORD-2026-000001", status="rejected", status_reason="blurred")
    assert len(capture.core.received) == 2
    for headers, body in capture.core.received:
        request = OpenAPIWebhookRequest("orderStatusChanged", headers, body)
        assert list(validator.iter_errors(request)) == []
    # and the validator does look: a body without changed_at is refused
    headers, body = capture.core.received[0]
    broken = json.loads(body)
    del broken["changed_at"]
    request = OpenAPIWebhookRequest("orderStatusChanged", headers, json.dumps(broken).encode())
    assert list(validator.iter_errors(request)) != []
