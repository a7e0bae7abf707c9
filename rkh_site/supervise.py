"""Keep one process running: restart it when it dies, stop it when asked.

``make run`` starts its processes with honcho (the ``Procfile``), which stops *everything*
when one process exits and never restarts anything: a worker that died on a Redis restart
took the whole installation down with it (issue 11, item 5). Each long-running process of
the Procfile runs under this supervisor instead::

    python -m rkh_site.supervise --name worker -- celery -A rkh_site worker ...

- The command is started in a process group of its own; when it exits (a crash, a kill,
  an unrecoverable error) it is started again after a pause that doubles from
  ``--min-backoff`` up to ``--max-backoff`` seconds, and starts again from the shortest once
  the command has run for ``--stable`` seconds.
- SIGTERM and SIGINT (honcho's stop, Ctrl-C) are passed on to the command once, and the
  supervisor exits with the command's exit code when it has stopped; nothing is restarted.
- If the supervisor itself is killed (SIGKILL), the command gets SIGTERM from the kernel
  (Linux ``PR_SET_PDEATHSIG``), so nothing is left running.

docker-compose.yml does the same with ``restart: unless-stopped``. No Django here.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """In the child before exec: get SIGTERM when the supervisor dies (Linux only)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the supervisor's own stop still works
        return
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os._exit(1)


class Supervisor:
    def __init__(
        self,
        command: list[str],
        *,
        name: str,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        stable: float = 60.0,
        out=sys.stderr,
    ) -> None:
        self.command = command
        self.name = name
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.stable = stable
        self.out = out
        self.stopping = threading.Event()
        self.child: subprocess.Popen | None = None
        self.signal_received: int | None = None
        self.starts = 0

    def say(self, text: str) -> None:
        print(f"supervise[{self.name}]: {text}", file=self.out, flush=True)

    def on_signal(self, signum: int, frame: object) -> None:
        if self.stopping.is_set():
            return  # passed on once already
        self.signal_received = signum
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signum)

    def start_child(self) -> subprocess.Popen:
        parent = os.getpid()
        self.starts += 1
        return subprocess.Popen(  # noqa: S603  (the Procfile's own command)
            self.command,
            start_new_session=True,
            preexec_fn=lambda: _die_with_parent(parent),
        )

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.on_signal)
        backoff = self.min_backoff
        while True:
            if self.stopping.is_set():
                return 0
            started = time.monotonic()
            self.child = self.start_child()
            if self.stopping.is_set() and self.child.poll() is None:  # a signal during start
                os.killpg(self.child.pid, self.signal_received or signal.SIGTERM)
            code = self._wait(self.child)
            if code < 0:  # killed by a signal: the shell's convention, 128 + its number
                code = 128 - code
            if self.stopping.is_set():
                return code
            ran = time.monotonic() - started
            if ran >= self.stable:
                backoff = self.min_backoff
            self.say(f"{self.command[0]} exited with code {code} after {ran:.0f} s; "
                     f"starting it again in {backoff:g} s")  # fmt: skip
            if self.stopping.wait(backoff):
                return code
            backoff = min(self.max_backoff, backoff * 2)

    @staticmethod
    def _wait(child: subprocess.Popen) -> int:
        while True:
            try:
                return child.wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="", help="how log lines name the process")
    parser.add_argument("--min-backoff", type=float, default=1.0)
    parser.add_argument("--max-backoff", type=float, default=30.0)
    parser.add_argument("--stable", type=float, default=60.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command is needed after --")
    supervisor = Supervisor(
        command,
        name=args.name or os.path.basename(command[0]),
        min_backoff=args.min_backoff,
        max_backoff=args.max_backoff,
        stable=args.stable,
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
