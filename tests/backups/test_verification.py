"""The checksum manifest: written beside each backup, and a backup that does not match it is
refused before anything is touched."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from backups import catalog, checksums
from backups.models import BackupRun
from events.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def backup(backup_dir, media_root) -> Path:
    """A backup of a database with one event and media with two files."""
    Event.objects.create(event_id="EVT-KEEP", name="Before the backup")
    (media_root / "originals" / "1").mkdir(parents=True)
    (media_root / "originals" / "1" / "a.jpg").write_bytes(b"original bytes")
    (media_root / "renditions" / "1").mkdir(parents=True)
    (media_root / "renditions" / "1" / "b.jpg").write_bytes(b"preview bytes")
    call_command("backup", verbosity=0)
    return backup_dir / BackupRun.objects.get().name


def test_the_manifest_names_every_file_with_its_sha256_and_sha256sum_agrees(backup):
    sums = checksums.read_sums(backup)
    assert set(sums) == {"database.pgdump", "media.tar", "manifest.json"}
    for name, digest in sums.items():
        assert hashlib.sha256((backup / name).read_bytes()).hexdigest() == digest
    # The operator's own check, by hand, gives the same answer.
    done = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"],
        cwd=backup,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _flip_a_byte(path: Path, at: int = 100) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0xFF
    path.write_bytes(raw)


@pytest.mark.parametrize("damaged", ["database.pgdump", "media.tar", "manifest.json"])
def test_a_backup_whose_checksums_do_not_match_is_refused_and_nothing_changes(
    backup, media_root, damaged
):
    _flip_a_byte(backup / damaged)
    Event.objects.create(event_id="EVT-AFTER", name="After the backup")
    (media_root / "new.jpg").write_bytes(b"after the backup")

    with pytest.raises(CommandError) as refused:
        call_command("restore_backup", "--latest", "--noinput", verbosity=0)

    message = str(refused.value)
    assert f"Backup {backup.name} is damaged and was not restored" in message
    assert f"{damaged}: checksum" in message
    assert set(Event.objects.values_list("event_id", flat=True)) == {"EVT-KEEP", "EVT-AFTER"}
    assert (media_root / "new.jpg").read_bytes() == b"after the backup"


def test_a_backup_with_a_missing_file_or_manifest_is_refused(backup):
    (backup / "media.tar").unlink()
    with pytest.raises(CommandError, match=r"media\.tar is missing"):
        call_command("restore_backup", backup.name, "--noinput", verbosity=0)
    (backup / checksums.SUMS_FILE).unlink()
    # Without its manifest it is no longer a complete backup at all.
    assert catalog.find(backup.name) is None
    with pytest.raises(CommandError, match="No complete backup called"):
        call_command("restore_backup", backup.name, "--noinput", verbosity=0)


def test_restore_refuses_a_name_that_is_a_path(backup):
    with pytest.raises(CommandError, match="No complete backup called"):
        call_command("restore_backup", f"../{backup.parent.name}", "--noinput", verbosity=0)


def test_the_written_backup_is_read_back_against_the_manifest(backup):
    """What the backup checks after writing is what the restore checks: both say "damaged"
    for the same change."""
    assert checksums.mismatches(backup) == []
    _flip_a_byte(backup / "database.pgdump", at=10)
    assert checksums.mismatches(backup) == [
        "database.pgdump: checksum "
        f"{checksums.file_sha256(backup / 'database.pgdump')[:12]}… does not match "
        f"{checksums.read_sums(backup)['database.pgdump'][:12]}…"
    ]


def test_a_backup_of_another_kind_of_database_is_refused(backup):
    """A backup made with SQLite (make run) cannot go into PostgreSQL, even when its checksums
    match: refused with the reason, nothing changed."""
    manifest_path = backup / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["database"]["vendor"] = "sqlite"
    manifest_path.write_text(json.dumps(manifest))
    sums = checksums.read_sums(backup)
    sums["manifest.json"] = checksums.file_sha256(manifest_path)
    checksums.write_sums(backup, sums)
    Event.objects.create(event_id="EVT-AFTER", name="After the backup")

    with pytest.raises(CommandError, match="is of a sqlite database; this installation uses"):
        call_command("restore_backup", backup.name, "--noinput", verbosity=0)
    assert Event.objects.filter(event_id="EVT-AFTER").exists()
