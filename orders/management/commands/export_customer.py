"""``export_customer EMAIL [--output FILE.zip]``: everything about one customer, as a ZIP.

``customer.json`` (their orders, the images' facts, the timelines, the e-mail they were sent)
and their photos, originals and processed files (``orders.privacy.export_customer``); no
other customer's data. Audited with the address's fingerprint and the operating-system user.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders import privacy
from utilities.errors import OrderError


class Command(BaseCommand):
    help = "Export a customer's orders, images' facts, timelines and photos into a ZIP file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="the customer's e-mail address (any case)")
        parser.add_argument(
            "--output",
            help="the ZIP file to write (default: customer-<fingerprint>.zip here); "
            "it holds personal data: hand it over, then delete it",
        )

    def handle(self, *args, **options) -> None:
        email = options["email"]
        target = Path(options["output"] or f"customer-{privacy.email_fingerprint(email)[:12]}.zip")
        if target.exists():
            raise CommandError(f"{target} exists; choose another --output.")
        # 0600: the file is one customer's personal data.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                summary = privacy.export_customer(
                    email, out, via="command", operator=getpass.getuser()
                )
        except (OrderError, OSError) as exc:
            target.unlink(missing_ok=True)
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{target}: {len(summary.orders)} order(s) ({', '.join(summary.orders) or 'none'}), "
            f"{summary.files} file(s), {summary.bytes} bytes"
        )
