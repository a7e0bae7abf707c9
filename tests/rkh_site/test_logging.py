"""Log lines say which request and which order they belong to (docs/deployment.md, "Watching
it run"): the request id (a well-formed ``X-Request-ID``, else a new one, answered in the
response header and carried into the Celery tasks the request queues) and the order reference,
as JSON for a log collector or as readable lines for ``make run``."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from logging.config import DictConfigurator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import AsyncClient
from django_guid import clear_guid, set_guid

from accounts.roles import MANAGER, USER
from events.models import Event
from orders import services as order_services
from orders.models import Image
from tests.asyncio_helpers import run_async
from tests.conftest import make_user
from tests.orders.intake import photos
from tests.workers import celery_worker
from utilities import log_context

ROOT = Path(__file__).resolve().parents[2]
MISSING_REF = "ORD-2099-999999"
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def configured_formatter(name: str) -> logging.Formatter:
    """The formatter ``name`` exactly as the settings' LOGGING builds it."""
    configurator = DictConfigurator(copy.deepcopy(settings.LOGGING))
    return configurator.configure_formatter(configurator.config["formatters"][name])


@pytest.fixture
def console_output() -> Iterator[tuple[logging.Handler, io.StringIO]]:
    """The root logger's configured ``console`` handler, writing into a buffer for the test."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    buffer = io.StringIO()
    stream, formatter = handler.setStream(buffer), handler.formatter
    try:
        yield handler, buffer
    finally:
        handler.setStream(stream)
        handler.setFormatter(formatter)


@pytest.fixture
def bound() -> Iterator[None]:
    """Leave no request id or order behind for the tests after this one."""
    yield
    clear_guid()
    log_context.order_ref.set(None)


def _record(message: str = "hello %s", args: tuple = ("world",), **extra) -> logging.LogRecord:
    record = logging.getLogger("rkh.test").makeRecord(
        "rkh.test", logging.WARNING, __file__, 1, message, args, None, extra=extra or None
    )
    log_context.LogContextFilter().filter(record)
    return record


def test_json_lines_parse_and_carry_the_request_and_the_order(bound):
    set_guid("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    log_context.bind_order_ref("ORD-2026-000042")
    line = configured_formatter("json").format(_record())
    data = json.loads(line)
    assert data["message"] == "hello world"
    assert data["level"] == "WARNING"
    assert data["logger"] == "rkh.test"
    assert data["request_id"] == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert data["order_ref"] == "ORD-2026-000042"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", data["time"])


def test_json_lines_of_work_outside_a_request_have_empty_keys_and_keep_tracebacks(bound):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("rkh.test").makeRecord(
            "rkh.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    log_context.LogContextFilter().filter(record)
    data = json.loads(configured_formatter("json").format(record))
    assert data["request_id"] is None
    assert data["order_ref"] is None
    assert "RuntimeError: boom" in data["exc_info"]


def test_console_lines_name_the_request_and_the_order_only_when_there_is_one(bound):
    formatter = configured_formatter("console")
    assert re.search(r"WARNING rkh\.test: hello world$", formatter.format(_record()))
    set_guid("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    log_context.bind_order_ref("ORD-2026-000042")
    line = formatter.format(_record())
    assert line.endswith(
        "WARNING rkh.test [0f1e2d3c4b5a69788796a5b4c3d2e1f0 ORD-2026-000042]: hello world"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", [f"/orders/{MISSING_REF}/", f"/api/v1/orders/{MISSING_REF}"])
def test_a_request_s_log_lines_carry_its_request_id_and_order(client, console_output, bound, path):
    handler, buffer = console_output
    handler.setFormatter(configured_formatter("json"))
    client.force_login(make_user(USER))
    sent = uuid.uuid4().hex

    response = client.get(path, HTTP_X_REQUEST_ID=sent)

    assert response.status_code == 404
    assert response["X-Request-ID"] == sent
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    not_found = [line for line in lines if line["message"] == f"Not Found: {path}"]
    assert not_found, lines
    assert not_found[0]["request_id"] == sent
    assert not_found[0]["order_ref"] == MISSING_REF
    assert not_found[0]["logger"] == "django.request"


@pytest.mark.django_db(transaction=True)  # the ASGI handler's threads use their own connection
def test_under_asgi_too(console_output, bound):
    """The web process runs under uvicorn: the same through Django's ASGI handler (async
    middleware, the view in a worker thread)."""
    handler, buffer = console_output
    handler.setFormatter(configured_formatter("json"))
    sent = str(uuid.uuid4())
    client = AsyncClient()
    user = make_user(USER)

    async def request():
        await client.aforce_login(user)
        return await client.get(f"/orders/{MISSING_REF}/", headers={"X-Request-ID": sent})

    # In a thread of its own: a browser test earlier in this process leaves Playwright's
    # event loop running in the main thread, where async_to_sync refuses to run.
    response = run_async(request())

    assert response.status_code == 404
    assert response["X-Request-ID"] == sent
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    not_found = [line for line in lines if line["message"].startswith("Not Found: /orders/")]
    assert not_found, lines
    assert not_found[0]["request_id"] == sent
    assert not_found[0]["order_ref"] == MISSING_REF


@pytest.mark.django_db
def test_pages_without_an_order_log_none(client, console_output, bound):
    handler, buffer = console_output
    handler.setFormatter(configured_formatter("json"))
    client.force_login(make_user(USER))
    log_context.bind_order_ref("ORD-2026-000001")  # left over from an earlier request

    assert client.get("/no-such-page/").status_code == 404

    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    not_found = [line for line in lines if line["message"] == "Not Found: /no-such-page/"]
    assert not_found, lines
    assert not_found[0]["order_ref"] is None
    assert HEX32.match(not_found[0]["request_id"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    # Fixed values: pytest-xdist's workers must collect the same test ids.
    "sent",
    [
        "3f2b8c1e9d4a4e6f8b7c6d5e4f3a2b1c",
        "3f2b8c1e-9d4a-4e6f-8b7c-6d5e4f3a2b1c",
        "3F2B8C1E-9D4A-4E6F-8B7C-6D5E4F3A2B1C",
    ],
    ids=str,
)
def test_a_well_formed_request_id_is_honoured(client, bound, sent):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=sent)
    assert response["X-Request-ID"] == sent


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sent",
    ["not-a-uuid", "x" * 32, "0f1e2d3c\r\nX-Evil: 1", "<script>alert(1)</script>", "1" * 500],
)
def test_a_malformed_request_id_is_replaced(client, console_output, bound, sent):
    handler, buffer = console_output
    handler.setFormatter(configured_formatter("json"))
    response = client.get("/healthz", HTTP_X_REQUEST_ID=sent)
    answered = response["X-Request-ID"]
    assert answered != sent
    assert HEX32.match(answered)
    # What was sent is not written into the logs verbatim when it is not plain text.
    if not sent.replace("-", "").isalnum():
        assert sent not in buffer.getvalue()


@pytest.mark.django_db
def test_without_a_request_id_one_is_made_for_each_request(client, bound):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert HEX32.match(first)
    assert HEX32.match(second)
    assert first != second


# --- the format follows the environment -------------------------------------------------


def _formatter_chosen(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    keep = {"PATH", "HOME", "LANG", "LC_ALL"}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import rkh_site.settings as s; print(s.LOGGING['handlers']['console']['formatter'])",
        ],
        cwd=ROOT,
        env={
            **{name: value for name, value in os.environ.items() if name in keep},
            "RKH_VAR_DIR": str(tmp_path),
            "SECRET_KEY": "k" * 60,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "chosen"),
    [
        ({"DEBUG": "1"}, "console"),  # make run
        ({"DEBUG": "0"}, "json"),  # production
        ({"DEBUG": "1", "LOG_FORMAT": "json"}, "json"),
        ({"DEBUG": "0", "LOG_FORMAT": "Console"}, "console"),
    ],
)
def test_log_format_follows_debug_unless_set(tmp_path, env, chosen):
    result = _formatter_chosen(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == chosen


def test_an_unknown_log_format_is_refused(tmp_path):
    result = _formatter_chosen(tmp_path, DEBUG="1", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be 'console' or 'json'" in result.stderr


# --- into the worker ------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_request_id_and_the_order_reach_the_worker_s_log_lines(
    client, settings, tmp_path, bound
):
    """A file uploaded through the API is ingested by a real worker (JSON logs): the worker's
    lines for that task carry the upload request's id and the order's reference."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    manager = make_user(MANAGER)
    client.force_login(manager)
    event = Event.objects.create(event_id="EVT-LOGS", name="Logs")
    ref = order_services.create_order(actor=manager, event=event, customer_name="Logs").order_ref
    sent = uuid.uuid4().hex

    with celery_worker(
        "ingest", media_root=settings.MEDIA_ROOT, log_dir=tmp_path, env={"LOG_FORMAT": "json"}
    ) as worker_log:
        upload = io.BytesIO(photos.jpeg())
        upload.name = "IMG_0001.jpg"
        answer = client.post(
            f"/api/v1/orders/{ref}/images", {"file": upload}, HTTP_X_REQUEST_ID=sent
        )
        assert answer.status_code == 201, answer.content
        assert answer["X-Request-ID"] == sent
        deadline = time.monotonic() + 60
        while Image.objects.filter(order__order_ref=ref, status=Image.Status.UPLOADED).exists():
            if time.monotonic() > deadline:
                pytest.fail(f"not ingested in 60 s; worker log:\n{worker_log.read_text()[-3000:]}")
            time.sleep(0.1)
        time.sleep(0.5)  # the worker writes its "succeeded" line as the task ends
        lines = [
            json.loads(line) for line in worker_log.read_text().splitlines() if line.startswith("{")
        ]

    of_task = [line for line in lines if line.get("request_id") == sent]
    assert of_task, lines[-20:]
    assert all(line["order_ref"] == ref for line in of_task)
    assert any("orders.tasks.ingest_image" in line["message"] for line in of_task)
    # Lines of the worker's own (starting up, the next task) carry neither.
    assert any(line["request_id"] is None for line in lines)


@pytest.mark.django_db
def test_browsers_of_allowed_origins_may_send_and_read_the_request_id(client, settings, bound):
    settings.CORS_ALLOWED_ORIGINS = ["https://portal.example.com"]
    preflight = client.options(
        "/api/v1/orders",
        HTTP_ORIGIN="https://portal.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-request-id",
    )
    assert "x-request-id" in preflight["Access-Control-Allow-Headers"].lower()
    sent = uuid.uuid4().hex
    answer = client.get(
        "/api/v1/orders", HTTP_ORIGIN="https://portal.example.com", HTTP_X_REQUEST_ID=sent
    )
    assert answer["X-Request-ID"] == sent
    assert "x-request-id" in answer["Access-Control-Expose-Headers"].lower()
