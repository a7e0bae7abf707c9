"""Error reports go to Sentry only when ``SENTRY_DSN`` is set (rkh_site/error_reports.py).

With a DSN, a process started as production starts (the settings read the environment) sends
an exception raised in a view to the DSN's server: here a small HTTP server of the test's own
stands in for Sentry and keeps what it receives (the edge of the system: no mock inside)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sentry_sdk
from django.conf import settings

from tests.workers import test_database_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)  # the process reads the test database

#: The process under test: a request to an order page whose view raises.
FAILING_REQUEST = """
import sys
import django
django.setup()
import sentry_sdk
from django.test import Client
from django.test.utils import override_settings, setup_test_environment
setup_test_environment()
print("active", sentry_sdk.get_client().is_active())
with override_settings(ROOT_URLCONF="tests.rkh_site.sentry_urls"):
    response = Client(raise_request_exception=False).get(
        "/orders/ORD-2026-000777/fail/",
        HTTP_X_REQUEST_ID=sys.argv[1],
        HTTP_COOKIE="sessionid=cookie-that-must-not-leave; studio=cookie-that-must-not-leave",
    )
print("status", response.status_code)
sentry_sdk.flush(timeout=10)
"""


class FakeSentry(ThreadingHTTPServer):
    """Keeps the body of every request it receives (envelopes), decompressed."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: FakeSentry

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args) -> None:  # quiet
        pass


@pytest.fixture
def fake_sentry() -> Iterator[FakeSentry]:
    server = FakeSentry()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _run(request_id: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", FAILING_REQUEST, request_id],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")},
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": test_database_url(),  # the session cookie is looked up
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_a_dsn_nothing_is_initialised():
    assert not settings.SENTRY_DSN
    assert not sentry_sdk.get_client().is_active()
    assert sentry_sdk.get_client().dsn is None


def test_without_a_dsn_a_failing_view_sends_nothing(fake_sentry):
    result = _run(uuid.uuid4().hex)
    assert result.returncode == 0, result.stderr
    assert "active False" in result.stdout
    assert "status 500" in result.stdout
    assert fake_sentry.received == []


def test_with_a_dsn_an_exception_in_a_view_arrives_as_an_envelope(fake_sentry):
    request_id = uuid.uuid4().hex
    port = fake_sentry.server_address[1]
    result = _run(
        request_id,
        SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/42",
        SENTRY_ENVIRONMENT="staging",
        SENTRY_RELEASE="rkh@1.2.3",
    )
    assert result.returncode == 0, result.stderr
    assert "active True" in result.stdout
    assert "status 500" in result.stdout

    envelopes = [body for path, body in fake_sentry.received if path == "/api/42/envelope/"]
    assert envelopes, fake_sentry.received
    events = [
        json.loads(line)
        for body in envelopes
        for line in body.decode().splitlines()
        if line.startswith("{") and '"exception"' in line
    ]
    assert len(events) == 1
    event = events[0]
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "sentry-test failure on ORD-2026-000777"
    assert event["environment"] == "staging"
    assert event["release"] == "rkh@1.2.3"
    assert event["tags"]["request_id"] == request_id
    assert event["tags"]["order_ref"] == "ORD-2026-000777"
    # send_default_pii=False: no cookies, no client address; and no session id, which the
    # Redis integration's breadcrumbs would carry in the session cache key (it is off).
    sent = b"".join(envelopes).decode()
    assert "cookie-that-must-not-leave" not in sent
    assert '127.0.0.1"' not in json.dumps(event.get("user", {}))
