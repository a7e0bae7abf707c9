"""Wait until the database and Redis answer, so start-up never races its services.

Every process in the Procfile runs this first: the web server and workers then
start against services that are up, instead of crashing (or worse, half
starting) while Redis or PostgreSQL are still booting.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from rkh_site.health import check_database, check_redis


class Command(BaseCommand):
    help = "Block until the database and Redis answer (or give up after --timeout seconds)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60.0)

    def handle(self, *args, timeout: float, **options):
        deadline = time.monotonic() + timeout
        waiting_for: list[str] = []
        while time.monotonic() < deadline:
            checks = {"database": check_database(), "redis": check_redis()}
            waiting_for = [name for name, result in checks.items() if not result["ok"]]
            if not waiting_for:
                return
            time.sleep(0.5)
        raise CommandError(f"gave up after {timeout:.0f}s waiting for: {', '.join(waiting_for)}")
