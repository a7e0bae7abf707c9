"""``manage.py import_folder PATH --event EVENT_ID``: a folder of images becomes an order.

With ``--per-subfolder`` each immediate subfolder becomes its own order, its
customer named after the subfolder. The work is ``orders.folder_import``'s;
this command parses, shows progress and prints the summary.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from orders import folder_import
from utilities.errors import OrderError


class Command(BaseCommand):
    help = (
        "Create an order from a folder's image files (recursively, hidden files skipped); "
        "with --per-subfolder, one order per immediate subfolder."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="Folder to import.")
        parser.add_argument("--event", required=True, help="Event ID the order(s) belong to.")
        parser.add_argument(
            "--customer",
            help="Customer name (default: the folder's name; with --per-subfolder, "
            "each subfolder's name).",
        )
        parser.add_argument("--email", default="", help="Customer e-mail address.")
        parser.add_argument(
            "--user",
            help="Username to act as (default: the first active Admin-role user).",
        )
        parser.add_argument(
            "--per-subfolder",
            action="store_true",
            help="One order per immediate subfolder; files at the top level are not imported.",
        )
        parser.add_argument("--preset", help="Slug of the processing preset for the order(s).")
        parser.add_argument(
            "--no-progress", action="store_true", help="Do not show the progress bar."
        )

    def handle(self, *args, **options):
        root = Path(options["path"]).expanduser()
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder.")
        try:
            event = folder_import.resolve_event(options["event"])
            actor = folder_import.resolve_actor(options["user"])
            preset = folder_import.resolve_preset(options["preset"])
        except folder_import.FolderImportError as exc:
            raise CommandError(str(exc)) from None

        if options["per_subfolder"]:
            folders = folder_import.subfolders(root)
            loose = folder_import.top_level_files(root)
            if loose:
                self.stderr.write(
                    f"{len(loose)} file(s) directly in {root} are not imported "
                    "(--per-subfolder imports subfolders only)."
                )
            if not folders:
                raise CommandError(f"No subfolders in {root}.")
        else:
            folders = [root]

        results = []
        for folder in folders:
            files = folder_import.find_files(folder)
            if not files:
                message = f"No files to import in {folder}."
                if not options["per_subfolder"]:
                    raise CommandError(message)
                self.stderr.write(f"{message} Skipped.")
                continue
            bar = tqdm(
                total=len(files),
                desc=folder.name[:30],
                unit="file",
                disable=True if options["no_progress"] else None,
                file=self.stderr._out,
            )
            try:
                with bar:
                    result = folder_import.import_folder(
                        folder,
                        event=event,
                        actor=actor,
                        customer_name=options["customer"],
                        customer_email=options["email"],
                        preset=preset,
                        files=files,
                        progress=lambda _outcome, bar=bar: bar.update(1),
                    )
            except (folder_import.FolderImportError, OrderError, PermissionDenied) as exc:
                raise CommandError(f"{folder}: {exc}") from None
            results.append(result)
            for line in folder_import.summary_lines(result):
                self.stdout.write(line)

        added = sum(len(r.added) for r in results)
        rejected = sum(len(r.rejected) for r in results)
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {len(results)} order(s), {added} file(s) added, {rejected} rejected."
            )
        )
