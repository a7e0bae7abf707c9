"""``make run``'s process group: honcho, with a printer that a Ctrl-C cannot break.

honcho prints "SIGINT received" from inside its signal handler. When the signal lands while
the main loop is itself printing a process's line (a busy log: the demo seed, a worker under
load), Python refuses the nested write to the same buffered stdout (``RuntimeError:
reentrant call inside <_io.BufferedWriter>``), honcho dies before stopping its processes,
and Ctrl-C leaves the installation half running. Found by ``tests/deploy/test_fresh_clone.py``
on a loaded machine. Here a write that arrives during a write waits and is printed right after
it, so the handler goes on to stop everything. Everything else is honcho's own ``main``::

    python -m rkh_site.procs start -f Procfile web worker ...
"""

from __future__ import annotations

import sys

from honcho import command
from honcho.printer import Message, Printer


class ReentrantSafePrinter(Printer):
    """A honcho printer whose ``write`` may be entered again from a signal handler."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._busy = False
        self._pending: list[Message] = []

    def write(self, message: Message) -> None:
        if self._busy:  # called from a signal handler in the middle of a write
            self._pending.append(message)
            return
        self._busy = True
        try:
            super().write(message)
            while self._pending:
                super().write(self._pending.pop(0))
        finally:
            self._busy = False


def main() -> None:
    command.Printer = ReentrantSafePrinter  # what ``honcho start`` builds its printer from
    command.main()


if __name__ == "__main__":
    sys.exit(main())
