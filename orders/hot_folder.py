"""The hot folder: order folders dropped on a share become orders by themselves.

Layout::

    HOT_FOLDER/<EVENT_ID>/<order folder>/<files, at any depth>
    HOT_FOLDER/<EVENT_ID>/done/<order folder>/            imported (refused files in rejected/)
    HOT_FOLDER/<EVENT_ID>/failed/<order folder>/          import failed; <folder>.reason.txt
    HOT_FOLDER/<EVENT_ID>/.importing/<order folder>/      being imported right now

An order folder that has not changed for ``settle`` seconds (the newest
modification time of the folder and everything in it) is imported through
``orders.folder_import`` with the folder's name as the customer. Files intake
refuses are moved to a ``rejected/`` folder beside them, each with a
``<file>.reason.txt``; then the order folder moves to ``done/``. Nothing is
ever deleted, and nothing is overwritten: a name already taken gets a
``-2``, ``-3``… suffix.

``scan_once`` is the whole logic and needs no watcher (tests, cron). The
``Watcher`` only decides *when* to scan: at start (folders already there),
whenever watchdog reports a change, and when a waiting folder is due.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection

from events.models import Event, event_id_validator

from . import folder_import
from .folder_import import FolderResult

log = logging.getLogger(__name__)

DONE = "done"
FAILED = "failed"
REJECTED = "rejected"
IMPORTING = ".importing"
#: Folder names inside an event folder that are never order folders.
RESERVED = frozenset({DONE, FAILED, REJECTED})
REASON_SUFFIX = ".reason.txt"


@dataclass
class Waiting:
    folder: Path
    due: float  # when it will have been quiet for ``settle`` seconds (epoch seconds)


@dataclass
class Imported:
    result: FolderResult
    done: Path  # where the folder is now


@dataclass
class Failed:
    folder: Path  # where the folder is now (under failed/)
    reason: str


@dataclass
class ScanReport:
    imported: list[Imported] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # skipped things a person should know

    @property
    def next_due(self) -> float | None:
        return min((w.due for w in self.waiting), default=None)


def last_change(folder: Path) -> float:
    """Newest modification time of the folder and anything in it (hidden files count:
    a copy tool's temporary file means the copy is still going on)."""
    newest = folder.lstat().st_mtime
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in (*dirnames, *filenames):
            try:
                newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
            except FileNotFoundError:  # removed while we looked: it is changing
                return time.time()
    return newest


def free_name(path: Path) -> Path:
    """``path`` if nothing is there, else the first free ``name-2``, ``name-3``…"""
    if not path.exists() and not path.is_symlink():
        return path
    stem, suffix = (path.stem, path.suffix) if path.is_file() else (path.name, "")
    n = 2
    while True:
        candidate = path.with_name(f"{stem}-{n}{suffix}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
        n += 1


def _move(source: Path, target_dir: Path, name: str | None = None) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    target = free_name(target_dir / (name or source.name))
    os.rename(source, target)
    return target


def _order_folders(event_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in event_dir.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
        if p.name not in RESERVED
    )


def _set_aside_rejected(result: FolderResult) -> None:
    """Move each refused file to ``rejected/`` beside it, with the reason next to it."""
    for outcome in result.rejected:
        if not outcome.path.exists():
            continue
        try:
            moved = _move(outcome.path, outcome.path.parent / REJECTED)
            outcome.path = moved
            reason_file = moved.with_name(moved.name + REASON_SUFFIX)
            reason_file.write_text(outcome.reason + "\n", encoding="utf-8")
        except OSError:
            log.exception("Could not set aside rejected file %s", outcome.path)


def import_order_folder(
    folder: Path, *, event: Event, actor: Any, preset: Any = None
) -> Imported | Failed:
    """Claim one settled folder, import it, file it under done/ (or failed/)."""
    event_dir = folder.parent
    claimed = _move(folder, event_dir / IMPORTING)
    order = None
    try:
        files = folder_import.find_files(claimed)
        order = folder_import.start_order(
            claimed,
            event=event,
            actor=actor,
            customer_name=folder.name,
            preset=preset,
            source="hot_folder",
        )
        result = folder_import.add_files(
            order, files, actor=actor, result=FolderResult(claimed, order)
        )
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
        if order is not None:
            reason += f" (order {order.order_ref} was created and may be incomplete)"
        log.exception("Hot folder import of %s failed", folder)
        failed = _move(claimed, event_dir / FAILED, folder.name)
        failed.with_name(failed.name + REASON_SUFFIX).write_text(reason + "\n", encoding="utf-8")
        return Failed(failed, reason)
    _set_aside_rejected(result)
    done = _move(claimed, event_dir / DONE, folder.name)
    result.folder = done
    for outcome in result.outcomes:  # paths as they are now, for the summary
        outcome.path = done / outcome.path.relative_to(claimed)
    return Imported(result, done)


def scan_once(
    root: Path | str,
    *,
    actor: Any,
    settle: float = 30,
    preset: Any = None,
    now: float | None = None,
) -> ScanReport:
    """Import every settled order folder under ``root`` once; report what waits.

    An order folder with no files is left where it is (noted), as are folders
    of unknown events and files lying directly in an event folder.
    """
    root = Path(root)
    now = time.time() if now is None else now
    report = ScanReport()
    for event_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        if event_dir.name.startswith("."):
            continue
        leftovers = event_dir / IMPORTING
        if leftovers.is_dir() and any(leftovers.iterdir()):
            report.notes.append(
                f"{leftovers}: an import was interrupted; check the order and move the "
                "folder back (or to done/) by hand."
            )
        folders = _order_folders(event_dir)
        if not folders:
            continue
        try:
            event_id_validator(event_dir.name)
        except ValidationError:
            event = None
        else:
            event = Event.objects.filter(event_id=event_dir.name).first()
        if event is None:
            report.notes.append(f"{event_dir.name}: unknown Event ID; its folders wait.")
            continue
        for folder in folders:
            try:
                changed = last_change(folder)
            except FileNotFoundError:  # moved away while we looked
                continue
            if now - changed < settle:
                report.waiting.append(Waiting(folder, changed + settle))
                continue
            if not folder_import.find_files(folder):
                report.notes.append(f"{folder}: no files to import; left alone.")
                continue
            outcome = import_order_folder(folder, event=event, actor=actor, preset=preset)
            (report.imported if isinstance(outcome, Imported) else report.failed).append(outcome)
    return report


class Watcher:
    """Runs ``scan_once`` at start, on file-system events and when a folder is due.

    ``rescan`` is the longest pause between scans when nothing happens (a
    safety net for shares whose changes watchdog does not see).
    """

    def __init__(
        self,
        root: Path,
        *,
        actor: Any,
        settle: float = 30,
        preset: Any = None,
        rescan: float = 60,
        on_report=None,
    ) -> None:
        self.root = Path(root)
        self.actor, self.settle, self.preset, self.rescan = actor, settle, preset, rescan
        self.on_report = on_report
        self.wake = threading.Event()
        self.stop = threading.Event()

    def scan(self) -> ScanReport | None:
        if not connection.in_atomic_block:
            # A long-running process: drop a connection the database has closed
            # meanwhile (as Django does between requests).
            close_old_connections()
        try:
            report = scan_once(self.root, actor=self.actor, settle=self.settle, preset=self.preset)
        except Exception:  # the database or the share may be back next time
            log.exception("Hot folder scan of %s failed; retrying later", self.root)
            return None
        if self.on_report is not None:
            self.on_report(report)
        return report

    def pause_after(self, report: ScanReport | None) -> float:
        if report is None or report.next_due is None:
            return self.rescan
        return min(self.rescan, max(0.5, report.next_due - time.time() + 0.1))

    def run(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        wake = self.wake

        class Poke(FileSystemEventHandler):
            def on_any_event(self, event):
                # Reading files (ours, while importing) is no change to react to.
                if event.event_type not in ("opened", "closed_no_write"):
                    wake.set()

        # watchdog re-registers the watches of a folder we move inside the tree and
        # warns each time; it is expected here (claim, done/, rejected/), not a fault.
        warnings.filterwarnings(
            "ignore", message="Callback with id", category=RuntimeWarning, module="watchdog"
        )
        observer = Observer()
        observer.schedule(Poke(), str(self.root), recursive=True)
        observer.start()
        try:
            while not self.stop.is_set():
                report = self.scan()
                self.wake.wait(self.pause_after(report))
                if self.wake.is_set():
                    self.wake.clear()
                    self.stop.wait(1.0)  # let a burst of events (a copy) settle a little
        finally:
            observer.stop()
            observer.join()
