"""``erase_customer EMAIL [--dry-run]``: erase everything about one customer, on request.

Every completed or cancelled order of the address loses its files and personal data
(``orders.privacy``; a delivered order too: it is anonymised, not deleted). Orders still in
work are named and left alone: cancel them, then run this again. Audited with the address's
fingerprint and the operating-system user who ran it; the fingerprint is printed so the
request can be matched to the log later.
"""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders import privacy
from utilities.errors import OrderError


class Command(BaseCommand):
    help = "Erase the files and personal data of every closed order of a customer's e-mail."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="the customer's e-mail address (any case)")
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be erased; change nothing"
        )

    def handle(self, *args, **options) -> None:
        try:
            report = privacy.erase_customer(
                options["email"],
                dry_run=options["dry_run"],
                via="command",
                operator=getpass.getuser(),
            )
        except OrderError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("\n".join(report.lines()))
        self.stdout.write(f"audit fingerprint: {privacy.email_fingerprint(options['email'])}")
