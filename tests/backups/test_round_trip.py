"""A backup brings back an identical system: every row of users, events, orders, images and
timelines, and every media file byte for byte; on PostgreSQL (pytest's database) and on SQLite
(a process of its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.roles import ADMIN
from backups import catalog
from backups.models import BackupRun
from tests.conftest import make_user

from . import data

ROOT = Path(__file__).resolve().parents[2]


def _assert_round_trip(before: dict, changed: dict, after: dict) -> None:
    # The changes were real (each part differs), then undone (each part equal again).
    for part in ("orders", "images", "timeline", "media"):
        assert changed[part] != before[part], part
    assert after == before
    # Every file the images name is there, with its bytes (an original, renditions, processed).
    named = data.image_files(after)
    assert len(named) >= 3 * 3 + 1
    assert set(named) <= set(after["media"])
    assert "stray.txt" not in after["media"]


@pytest.mark.django_db(transaction=True)
def test_postgresql_round_trip_restores_orders_images_and_files(backup_dir, media_root):
    admin = make_user(ADMIN)
    from events.models import Event

    event = Event.objects.create(event_id="EVT-PG-1", name="Round trip")
    data.populate(admin, event)
    before = data.snapshot(media_root)

    call_command("backup", verbosity=0)
    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.SUCCEEDED
    assert run.media_files == len(before["media"])
    assert (backup_dir / run.name / "database.pgdump").is_file()

    data.mutate(media_root)
    changed = data.snapshot(media_root)
    call_command("restore_backup", run.name, "--noinput", verbosity=0)
    after = data.snapshot(media_root)

    _assert_round_trip(before, changed, after)
    # The restored record of the backup says how it ended (it was running when dumped).
    assert BackupRun.objects.get().status == BackupRun.Status.SUCCEEDED
    assert catalog.latest() == backup_dir / run.name


@pytest.mark.django_db(transaction=True)
def test_sqlite_round_trip_restores_orders_images_and_files(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "RKH_VAR_DIR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.backups.sqlite_round_trip"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["integrity"] == [["ok"]]
    assert len(result["before"]["orders"]) == 3
    _assert_round_trip(result["before"], result["changed"], result["after"])
    assert [p.name[:4] for p in (tmp_path / "backups").iterdir()] == ["rkh-"]
