"""``apply_retention [--dry-run]``: erase the data of orders whose retention period ended.

Beat does the same every day (``orders.tasks.apply_retention``); this shows what it does,
or would do (``--dry-run`` changes nothing): each order, its files and their bytes.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from orders import privacy


class Command(BaseCommand):
    help = (
        "Erase the files and personal data of orders completed (or cancelled) longer ago than "
        "RETENTION_DAYS (or their event's retention); prints which orders, files and bytes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be erased; change nothing"
        )

    def handle(self, *args, **options) -> None:
        report = privacy.apply_retention(dry_run=options["dry_run"])
        self.stdout.write("\n".join(report.lines()))
