"""The backup round trip on SQLite, in a process of its own (pytest's database is PostgreSQL).

Run by ``test_round_trip`` with ``DATABASE_URL=sqlite:///<file>``, ``MEDIA_ROOT`` and
``BACKUP_DIR`` in the environment: migrates, makes orders with photos, backs up, changes
things, restores, and prints the three snapshots as JSON for the test to compare.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from accounts import services as account_services
    from accounts.models import User
    from accounts.roles import ADMIN
    from events.models import Event

    from . import data

    assert connection.vendor == "sqlite", connection.vendor
    call_command("migrate", verbosity=0)
    admin = User.objects.create_user(username="admin", email="admin@test.example")
    account_services.set_role(admin, ADMIN)
    admin = User.objects.get(pk=admin.pk)
    event = Event.objects.create(event_id="EVT-SQLITE", name="SQLite event")
    data.populate(admin, event)
    media_root = Path(settings.MEDIA_ROOT)
    before = data.snapshot(media_root)
    call_command("backup", verbosity=0)
    data.mutate(media_root)
    changed = data.snapshot(media_root)
    call_command("restore_backup", "--latest", "--noinput", verbosity=0)
    after = data.snapshot(media_root)
    check = sqlite3.connect(settings.DATABASES["default"]["NAME"])
    integrity = check.execute("PRAGMA integrity_check").fetchall()
    check.close()
    json.dump(
        {"before": before, "changed": changed, "after": after, "integrity": integrity},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
