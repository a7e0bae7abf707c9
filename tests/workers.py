"""Real Celery worker processes for tests that are about the queue.

The worker runs the project's own ``celery -A rkh_site worker`` against the
test database and the test's MEDIA_ROOT, exactly as a deployment would; tests
only look at the database for the outcome.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from rkh_site.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]
CELERY = ROOT / ".venv" / "bin" / "celery"
START_SECONDS = 30


def test_database_url() -> str:
    """The URL of the database pytest-django made, for another process."""
    db = connection.settings_dict
    return (
        f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}"
        f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


test_database_url.__test__ = False  # a helper, not a test


@dataclass
class WorkerProcess:
    """A running worker started by ``celery_worker_process``: its process, pid and log."""

    process: subprocess.Popen
    log: Path
    name: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the worker (a crash, an OOM kill): nothing of it runs any more."""
        os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the pool too
        self.process.wait(timeout=10)


@contextmanager
def celery_worker(
    queue: str, *, media_root: str | Path, log_dir: Path, env: dict[str, str] | None = None
) -> Iterator[Path]:
    """Run a one-process worker on ``queue`` ("a,b": several); yields the path of its log."""
    with celery_worker_process(queue, media_root=media_root, log_dir=log_dir, env=env) as worker:
        yield worker.log


@contextmanager
def celery_worker_process(
    queue: str,
    *,
    media_root: str | Path,
    log_dir: Path,
    env: dict[str, str] | None = None,
    purge: bool = True,
    log_name: str | None = None,
) -> Iterator[WorkerProcess]:
    """As ``celery_worker``, yielding a ``WorkerProcess`` (pid, ``kill()``, log).

    ``purge=False`` keeps the messages waiting in the queues (a worker that replaces a
    killed one must find them); ``log_name`` names the log file (several workers, one test).
    """
    # Tasks left in the queues by earlier runs would only delay this one: drop
    # what waits in this broker's queues (those queues only) first.
    if purge:
        with celery_app.connection_for_write() as conn:
            for each in queue.split(","):
                conn.default_channel.queue_purge(each.strip())
    name = f"{queue.replace(',', '-')}test-{os.getpid()}-{time.monotonic_ns()}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": test_database_url(),
        "MEDIA_ROOT": str(media_root),
        **(env or {}),
    }
    command = [
        str(CELERY), "-A", "rkh_site", "worker", "-Q", queue,
        "--pool", "solo", "--concurrency", "1", "-n", f"{name}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
    ]  # fmt: skip
    log_path = log_dir / (log_name or f"worker-{queue.replace(',', '-')}.log")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"worker exited while starting:\n{log_path.read_text()[-3000:]}")
            replies = celery_app.control.inspect(timeout=0.5).ping() or {}
            if any(node.startswith(f"{name}@") for node in replies):
                break
        else:
            pytest.fail(f"worker did not answer within {START_SECONDS}s")
        yield WorkerProcess(process, log_path, name)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
