"""Real web processes for tests that cross process boundaries (uvicorn, ``rkh_site.asgi``).

Each runs the project's ASGI application exactly as ``make run`` and the
deployment do (HTTP and WebSocket), against the test database, the test's
MEDIA_ROOT and the Redis of ``REDIS_URL``, on a free port of 127.0.0.1, with
``tests.live.web_settings`` (the test settings, heartbeat off).
``DJANGO_ALLOW_ASYNC_UNSAFE`` (set for the Playwright tests) is not passed on:
an ORM call on the event loop fails there as it would in production.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.workers import test_database_url

ROOT = Path(__file__).resolve().parents[2]
UVICORN = ROOT / ".venv" / "bin" / "uvicorn"
START_SECONDS = 30


@dataclass(frozen=True)
class WebProcess:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(media_root: str | Path, extra: dict[str, str] | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.live.web_settings",
        "DATABASE_URL": test_database_url(),
        "MEDIA_ROOT": str(media_root),
        **(extra or {}),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def _wait_until_up(process: subprocess.Popen, web: WebProcess) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited while starting:\n{web.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{web.url}/accounts/login/", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    pytest.fail(f"uvicorn did not answer within {START_SECONDS}s:\n{web.log.read_text()[-3000:]}")


@contextmanager
def web_processes(
    count: int, *, media_root: str | Path, log_dir: Path, env: dict[str, str] | None = None
) -> Iterator[list[WebProcess]]:
    """Start ``count`` uvicorn processes in parallel; yields them once all answer."""
    environment = _environment(media_root, env)
    with ExitStack() as stack:
        started: list[tuple[subprocess.Popen, WebProcess]] = []
        for i in range(count):
            web = WebProcess(port=free_port(), log=log_dir / f"web-{i + 1}.log")
            with web.log.open("wb") as log:
                process = subprocess.Popen(
                    [str(UVICORN), "rkh_site.asgi:application", "--host", "127.0.0.1",
                     "--port", str(web.port), "--no-server-header", "--log-level", "warning"],
                    cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
            stack.callback(_stop, process)
            started.append((process, web))
        for process, web in started:
            _wait_until_up(process, web)
        yield [web for _process, web in started]


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
