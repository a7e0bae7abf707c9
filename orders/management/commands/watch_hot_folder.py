"""``manage.py watch_hot_folder [PATH]``: turn order folders dropped in the hot folder into orders.

PATH defaults to ``settings.HOT_FOLDER``. Runs until stopped (Ctrl-C, SIGTERM);
``--once`` scans a single time and exits (for cron or a quick check). The
logic is ``orders.hot_folder``'s; see docs/intake.md, "Hot folder".
"""

from __future__ import annotations

import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders import folder_import, hot_folder


class Command(BaseCommand):
    help = (
        "Watch the hot folder (HOT_FOLDER/<EVENT_ID>/<order folder>/files) and import each "
        "order folder once it has stopped changing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="Hot folder (default: settings.HOT_FOLDER).")
        parser.add_argument(
            "--settle",
            type=float,
            default=settings.HOT_FOLDER_SETTLE_SECONDS,
            help="Seconds an order folder must stay unchanged before it is imported (default 30).",
        )
        parser.add_argument(
            "--user", help="Username to act as (default: the first active Admin-role user)."
        )
        parser.add_argument("--preset", help="Slug of the processing preset for new orders.")
        parser.add_argument("--once", action="store_true", help="Scan once and exit.")
        parser.add_argument(
            "--rescan",
            type=float,
            default=60,
            help="Longest pause between scans when no change is seen (default 60 s).",
        )

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        path = options["path"] or settings.HOT_FOLDER
        if not path:
            raise CommandError("No hot folder: pass PATH or set HOT_FOLDER.")
        root = Path(path).expanduser()
        if not root.is_dir():
            raise CommandError(f"The hot folder {root} does not exist or is not a folder.")
        if options["settle"] < 0:
            raise CommandError("--settle cannot be negative.")
        try:
            actor = folder_import.resolve_actor(options["user"])
            preset = folder_import.resolve_preset(options["preset"])
        except folder_import.FolderImportError as exc:
            raise CommandError(str(exc)) from None

        if options["once"]:
            self.show(
                hot_folder.scan_once(root, actor=actor, settle=options["settle"], preset=preset)
            )
            return

        watcher = hot_folder.Watcher(
            root,
            actor=actor,
            settle=options["settle"],
            preset=preset,
            rescan=max(1.0, options["rescan"]),
            on_report=self.show,
        )

        def stop(signum, frame):
            watcher.stop.set()
            watcher.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(
            f"Watching {root} as {actor.username} (settle {options['settle']:g} s); Ctrl-C stops."
        )
        watcher.run()
        self.stdout.write("Stopped.")

    def show(self, report: hot_folder.ScanReport) -> None:
        for item in report.imported:
            for line in folder_import.summary_lines(item.result):
                self.stdout.write(line)
            self.stdout.write(f"  → {item.done}")
        for item in report.failed:
            self.stderr.write(f"FAILED {item.folder}: {item.reason}")
        seen = self.__dict__.setdefault("_notes_seen", set())
        for note in report.notes:  # each once: a scan runs every few seconds
            if note not in seen:
                seen.add(note)
                self.stderr.write(note)
        if self.verbosity >= 2:
            for waiting in report.waiting:
                self.stdout.write(f"waiting: {waiting.folder}")
