"""The README's first command works on a machine where nothing of ours ran before.

A clone of this working tree (committed or not: the files are copied over a
``git clone``), ``make run`` with nothing but Python and npm, no ``REDIS_URL``
(the embedded Valkey) and no ``DATABASE_URL`` (SQLite under the clone's var/),
on free ports so nothing else on the machine is in the way. The test waits for
``/healthz/ready`` to answer 200 (database, Redis, a worker on every queue; asked as a
monitor with ``HEALTH_TOKEN``), signs in
as the demo user, stops everything with Ctrl-C (SIGINT to the group, as a
terminal does) and checks that nothing is left running or listening.

The defect it guards: ``seed_demo`` ran before honcho had started the embedded
Redis, failed on the cache, rolled back, and so failed the same way every time.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Installing the virtualenv and npm packages (from warm caches) and starting every process.
START_SECONDS = 300
STOP_SECONDS = 30
#: What a fresh shell on this machine has too: the basics, the package caches, and the
#: machine's own network settings (its certificate bundle and proxies: without them a
#: package not in the cache cannot be downloaded, as on the newcomer's machine it can).
KEEP_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "UV_CACHE_DIR",
    "npm_config_cache",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _clone_of_this_tree(target: Path) -> Path:
    """``git clone`` of the repository, with the working tree's files (edited or new, not
    ignored) copied over it: what a fresh clone of this tree, once committed, would hold."""
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source, copy = ROOT / name, target / name
        if source.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
        elif copy.exists():  # deleted in the working tree
            copy.unlink()
    return target


def _processes_under(path: Path) -> list[str]:
    """Command lines of live processes started from ``path`` (cwd or arguments)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if str(path) in cmdline or cwd.startswith(str(path)):
            found.append(f"{proc.name}: {cmdline.strip()}")
    return found


def _kill_processes_under(path: Path) -> None:
    """A failed run must not leave its servers behind for the rest of the suite (or the
    machine's next ``make run``): honcho starts each process in a group of its own, so when
    honcho itself dies, killing make's group does not reach them."""
    for line in _processes_under(path):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)


#: What a monitor sends for the readiness details (any value; the run is given it).
TOKEN = "fresh-clone-monitor"


def _wait_for_health(url: str, make: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    last = ""
    while time.monotonic() < deadline:
        if make.poll() is not None:
            pytest.fail(f"make run exited ({make.returncode}):\n{log.read_text()[-4000:]}")
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"{exc.code} {exc.read()[:300]!r}"
        except (urllib.error.URLError, OSError) as exc:
            last = repr(exc)
        time.sleep(1)
    pytest.fail(f"{url} not 200 after {START_SECONDS}s ({last}):\n{log.read_text()[-4000:]}")


def _sign_in(base: str, username: str, password: str) -> str:
    """Sign in through the login page as a browser would; the dashboard's HTML."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(f"{base}/accounts/login/", timeout=10) as response:
        form = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    body = urlencode(
        {"csrfmiddlewaretoken": token, "login": username, "password": password}
    ).encode()
    request = urllib.request.Request(
        f"{base}/accounts/login/", data=body, headers={"Referer": f"{base}/accounts/login/"}
    )
    with opener.open(request, timeout=10) as response:
        assert response.url == f"{base}/", response.url
        return response.read().decode()


@pytest.mark.timeout(START_SECONDS + 2 * STOP_SECONDS + 60)
def test_make_run_on_a_fresh_clone_starts_and_stops_cleanly(tmp_path):
    if shutil.which("npm") is None or shutil.which("make") is None:
        pytest.fail("make run needs make and npm on the machine (see the README)")
    clone = _clone_of_this_tree(tmp_path / "clone")
    web, redis_port, runware, gemini, pmr = _free_ports(5)
    assert not _listening(redis_port)
    env = {name: os.environ[name] for name in KEEP_ENV if name in os.environ}
    env |= {
        "PORT": str(web),
        "EMBEDDED_REDIS_PORT": str(redis_port),
        "RUNWARE_SIM_PORT": str(runware),
        "GEMINI_SIM_PORT": str(gemini),
        "PMR_SIM_PORT": str(pmr),
        "HEALTH_TOKEN": TOKEN,
    }
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "run"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{web}"
    try:
        _wait_for_health(f"{base}/healthz/ready", make, log)
        dashboard = _sign_in(base, "user", "rkh-demo-user")
        assert 'data-testid="whoami"' in dashboard
        assert "Uma User" in dashboard or ">user<" in dashboard
        # The demo orders were seeded against the PMR simulator, not made offline.
        assert "demo orders are made offline" not in log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGINT)  # Ctrl-C in the terminal
        try:
            make.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(make.pid, signal.SIGKILL)
            make.wait()
            _kill_processes_under(clone)
            pytest.fail(f"make run did not stop on Ctrl-C:\n{log.read_text()[-3000:]}")
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and _processes_under(clone):
        time.sleep(0.5)
    left = _processes_under(clone)
    _kill_processes_under(clone)
    assert left == [], log.read_text()[-3000:]
    for port in (web, redis_port, runware, gemini, pmr):
        assert not _listening(port), f"port {port} still listening after Ctrl-C"
