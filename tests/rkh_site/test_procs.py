"""``make run``'s honcho printer survives a Ctrl-C that lands in the middle of a write."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from honcho.printer import Message, Printer

from rkh_site.procs import ReentrantSafePrinter


def _line(text: str, name: str = "web.1") -> Message:
    return Message(type="line", data=text, time=dt.datetime(2026, 12, 4), name=name, colour=None)


class InterruptedStream(io.StringIO):
    """A stdout whose first write is interrupted by honcho's signal handler, which prints."""

    def __init__(self) -> None:
        super().__init__()
        self.printer: Printer | None = None
        self.interrupted = False

    def write(self, text: str) -> int:
        if not self.interrupted and self.printer is not None:
            self.interrupted = True
            self.printer.write(_line("SIGINT received", name="system"))
        return super().write(text)


def test_a_write_during_a_write_is_printed_after_it():
    stream = InterruptedStream()
    printer = ReentrantSafePrinter(stream, colour=False, prefix=False)
    stream.printer = printer
    printer.write(_line("created order ORD-2026-000001"))
    printer.write(_line("worker.1 stopped"))
    assert stream.getvalue().splitlines() == [
        "created order ORD-2026-000001",
        "SIGINT received",
        "worker.1 stopped",
    ]


def test_honchos_own_printer_would_have_nested_the_write():
    """The hazard the class exists for: honcho's printer writes inside the interrupted write
    (on a real buffered stdout that nesting raises RuntimeError and honcho dies)."""
    stream = InterruptedStream()
    printer = Printer(stream, colour=False, prefix=False)
    stream.printer = printer
    printer.write(_line("created order ORD-2026-000001"))
    assert stream.getvalue().splitlines()[0] == "SIGINT received"  # printed out of turn


def test_the_launcher_runs_honcho(capsys, monkeypatch):
    from rkh_site import procs

    monkeypatch.setattr("sys.argv", ["procs", "--version"])
    with pytest.raises(SystemExit) as stopped:
        procs.main()
    assert stopped.value.code in (0, None)
    assert "honcho" in capsys.readouterr().out.lower()
