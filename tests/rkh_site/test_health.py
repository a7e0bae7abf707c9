"""``GET /healthz`` and ``GET /healthz/ready`` against the real database, Redis and Celery
worker processes: the cheap check says nothing internal to anonymous callers; the readiness
view names what is missing, for staff and monitors with the token only."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rkh_site.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
CELERY = ROOT / ".venv" / "bin" / "celery"
ALL_QUEUES = ["default", "ingest", "ai", "pmr"]
WORKER_START_SECONDS = 30
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"

pytestmark = pytest.mark.django_db


class Worker:
    """A real ``celery worker`` process consuming ``queues``, named ``name@<host>``."""

    def __init__(self, name: str, queues: list[str], log_path: Path) -> None:
        self.name = name
        self.queues = queues
        self.log_path = log_path
        self.node: str | None = None
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        # Tasks other tests queued (and no worker ran) would keep this one busy, against a
        # database it is not given: drop what waits in its queues first.
        with celery_app.connection_for_write() as conn:
            for queue in self.queues:
                conn.default_channel.queue_purge(queue)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
        command = [
            str(CELERY), "-A", "rkh_site", "worker",
            "-Q", ",".join(self.queues),
            "--concurrency", "1", "--pool", "solo",
            "-n", f"{self.name}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel", "INFO",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + WORKER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._fail(f"exited with code {self.process.returncode} while starting")
            replies = celery_app.control.inspect(timeout=1).ping() or {}
            nodes = [n for n in replies if n.startswith(f"{self.name}@")]
            if nodes:
                self.node = nodes[0]
                return
        self.stop()
        self._fail(f"did not answer a ping within {WORKER_START_SECONDS}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # warm shutdown
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def _fail(self, what: str) -> None:
        log = self.log_path.read_text(errors="replace")[-3000:]
        pytest.fail(f"Celery worker {self.name} {what}. Its log:\n{log}", pytrace=False)


@pytest.fixture(scope="module")
def full_worker(tmp_path_factory) -> Iterator[Worker]:
    """One worker for every required queue, shared by the module's tests that need it."""
    worker = Worker("healthtest", ALL_QUEUES, tmp_path_factory.mktemp("worker") / "full.log")
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def partial_worker(tmp_path) -> Iterator[Worker]:
    worker = Worker("healthtest-partial", ["default"], tmp_path / "partial.log")
    worker.start()
    yield worker
    worker.stop()


TOKEN = "monitor-token-for-tests"


@pytest.fixture(autouse=True)
def health_token(settings):
    settings.HEALTH_TOKEN = TOKEN


def _healthz(client, path: str = "/healthz/ready") -> tuple[int, dict, float]:
    """The readiness view (or ``path``), as a monitor with the token asks it."""
    started = time.monotonic()
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    elapsed = time.monotonic() - started
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json(), elapsed


# The tests without a worker come first: the module's full worker starts only
# when the first test that asks for it runs, and lives until the module ends.


def test_database_check_reports_ok_and_vendor(client):
    _, body, _ = _healthz(client)
    assert body["checks"]["database"] == {"ok": True, "vendor": "postgresql"}
    assert body["checks"]["redis"] == {"ok": True}


@pytest.mark.worker
def test_the_cheap_check_says_nothing_internal_and_does_not_ask_workers(client):
    # No worker runs here, so the readiness view says 503; the cheap check does not ask the
    # workers (about a second each time) and answers for what the web process needs.
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert elapsed < 0.5, f"/healthz took {elapsed:.2f}s"
    assert _healthz(client)[0] == 503
    # With the token (or as staff) it names its parts, still without the workers.
    status, body, _ = _healthz(client, "/healthz")
    assert status == 200
    assert set(body["checks"]) == {"database", "redis"}


def test_the_cheap_check_says_only_unavailable_when_a_part_is_down(client, settings):
    settings.REDIS_URL = DEAD_REDIS_URL
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("wrong token", 401), ("Viewer", 403), ("User", 403), ("Manager", None)],
)
def test_readiness_is_for_staff_and_the_token(client, users, who, status):
    headers = {}
    if who == "wrong token":
        headers["HTTP_AUTHORIZATION"] = "Bearer not-the-token"
    elif who != "anonymous":
        client.force_login(users[who])
    response = client.get("/healthz/ready", **headers)
    body = response.json()
    if status is None:  # staff: the details (200 or 503: no worker runs in this test)
        assert response.status_code in (200, 503)
        assert body["checks"]["database"]["vendor"] == "postgresql"
        assert "celery" in body["checks"]
    else:
        assert response.status_code == status, response.content
        assert set(body) == {"error"}
        assert "postgresql" not in response.content.decode()


def test_without_a_configured_token_no_bearer_gets_in(client, settings):
    settings.HEALTH_TOKEN = ""
    response = client.get("/healthz/ready", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 401


@pytest.mark.worker
def test_no_worker_is_unavailable(client):
    status, body, _ = _healthz(client)
    assert body["checks"]["celery"]["workers"] == [], "a Celery worker is already running"
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["failing"] == ["celery"]
    assert body["checks"]["celery"]["ok"] is False
    assert body["checks"]["celery"]["missing_queues"] == ALL_QUEUES


@pytest.mark.worker
def test_worker_missing_queues_is_unavailable_and_names_them(client, partial_worker):
    status, body, _ = _healthz(client)
    assert status == 503
    assert body["failing"] == ["celery"]
    celery = body["checks"]["celery"]
    assert celery["workers"] == [partial_worker.node]
    assert celery["missing_queues"] == ["ingest", "ai", "pmr"]
    assert celery["ok"] is False


def test_redis_unreachable_is_unavailable_and_fast(client, settings):
    # health.py reads settings.REDIS_URL at call time. The Celery app keeps the
    # broker it was configured with, but it is not asked when Redis is down.
    settings.REDIS_URL = DEAD_REDIS_URL
    status, body, elapsed = _healthz(client)
    assert status == 503
    assert body["status"] == "unavailable"
    assert "redis" in body["failing"]
    assert "celery" in body["failing"]
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    # Without Redis the workers are not asked (that could only time out).
    assert body["checks"]["celery"]["error"] == "redis unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert elapsed < 5, f"/healthz took {elapsed:.1f}s with Redis down"


@pytest.fixture
def silent_database():
    """An address that takes TCP connections and never speaks: a database host that is
    there but does not answer (a hung server, a packet filter eating the handshake)."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)  # never accepted: connections wait in the backlog
    yield server.getsockname()[1]
    server.close()


def test_database_unreachable_answers_before_the_health_check_gives_up(
    client, monkeypatch, silent_database
):
    """Issue 11, item 9: the pool waited its 30 s for the database; the compose health
    check gives up after 5 s. The check now connects on its own with a 1 s timeout (about 2 s
    in all, libpq's least; a loaded machine adds to it, so the bound is the compose check's)."""
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(connection.settings_dict, "PORT", str(silent_database))
    status, body, elapsed = _healthz(client)
    assert status == 503
    assert "database" in body["failing"]
    assert body["checks"]["database"]["ok"] is False
    assert elapsed < 5, f"/healthz took {elapsed:.1f}s with the database away"


@pytest.mark.worker
def test_worker_for_every_queue_is_ok(client, full_worker):
    status, body, elapsed = _healthz(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["failing"] == []
    celery = body["checks"]["celery"]
    assert celery == {"ok": True, "workers": [full_worker.node], "missing_queues": []}
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["redis"]["ok"]
    assert elapsed < 5
