"""Writes of the backups app: make a backup (and record it), restore one.

``run_backup`` is what the daily beat task and ``manage.py backup`` call. It records a
``BackupRun`` before it starts, writes the backup into a partial folder, verifies it (every
file read back against ``SHA256SUMS``, the dump read by the database's own tool, the media
archive read whole), renames it into place, then rotates (``BACKUP_KEEP``). Any failure
records the run as failed with its reason, removes the partial folder, keeps every older
backup, and notifies the Admins once (``alerts``). Two backups never run at once: a Redis
lease (renewed while the backup runs) makes the second step aside; with Redis away the backup
still runs, since a backup is most wanted when things are broken.

``restore_backup`` refuses a backup whose files do not match its checksums, or that was made
from another kind of database, before it touches anything; then restores the database and
makes MEDIA_ROOT hold exactly the backed-up files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from utilities import leases
from utilities import media as files_media
from utilities.redis_clients import shared

from . import alerts, catalog, checksums, database, media, offsite
from .models import BackupRun

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = 1
LEASE_KEY = "rkh:backups:running"
LEASE_SECONDS = 120


class BackupBusy(RuntimeError):
    """Another backup is running (it holds the lease)."""


class RestoreRefused(RuntimeError):
    """The backup cannot be restored; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class Restored:
    name: str
    created_at: str
    media_files: int


def run_backup(*, trigger: str) -> BackupRun:
    """Make, verify and record one backup; the run (succeeded or failed). Raises BackupBusy
    when another backup is running."""
    with contextlib.ExitStack() as stack:
        try:
            alone = stack.enter_context(
                leases.exclusive(shared(), LEASE_KEY, LEASE_SECONDS, renew=True)
            )
        except redis.RedisError as exc:
            log.warning("Backup without its lease: Redis is away (%s)", exc)
            alone = True
        if not alone:
            raise BackupBusy("Another backup is running.")
        run = BackupRun.objects.create(trigger=trigger, started_at=timezone.now())
        try:
            _make(run)
            if offsite.enabled():  # off the machine; a failed copy fails the run (Admins hear)
                path = catalog.find(run.name)
                if path is None:
                    raise RuntimeError(f"Backup {run.name} is not in {catalog.folder()}.")
                offsite.upload(path)
        except Exception as exc:
            log.exception("Backup %s failed", run.pk)
            _failed(run, exc)
            return run
    try:
        deleted = catalog.rotate(settings.BACKUP_KEEP)
    except OSError:
        log.exception("Rotating backups failed")  # the new backup stands; tomorrow tries again
    else:
        if deleted:
            log.info("Backups rotated out: %s", ", ".join(deleted))
    if offsite.enabled() and run.status != BackupRun.Status.FAILED:
        try:
            deleted = offsite.rotate(settings.BACKUP_KEEP)
        except Exception:
            log.exception("Rotating the backups in the bucket failed")
        else:
            if deleted:
                log.info("Backups rotated out of the bucket: %s", ", ".join(deleted))
    return run


def _make(run: BackupRun) -> None:
    root = catalog.folder()
    # Customer photos and the whole database: readable by the app's user only.
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = catalog.new_name(run.started_at)
    partial = root / f"{catalog.PARTIAL_PREFIX}{name}"
    partial.mkdir(mode=0o700)
    BackupRun.objects.filter(pk=run.pk).update(name=name)
    run.name = name
    try:
        db_file = database.file_name()
        db_digest, db_size = database.dump(partial / db_file)
        media_digest, media_size, media_count = (
            media.pack(Path(settings.MEDIA_ROOT), partial / media.FILE_NAME)
            if files_media.has_local_paths(default_storage)
            else media.pack_storage(default_storage, partial / media.FILE_NAME)
        )
        manifest = _manifest(name, run, db_file, db_size, media_count, media_size)
        manifest_path = partial / MANIFEST_FILE
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        checksums.write_sums(
            partial,
            {
                db_file: db_digest,
                media.FILE_NAME: media_digest,
                MANIFEST_FILE: checksums.file_sha256(manifest_path),
            },
        )
        # What is on the disk must be what was produced: read back, file by file.
        problems = checksums.mismatches(partial)
        if problems:
            raise RuntimeError("The backup does not read back as written: " + "; ".join(problems))
        database.check(partial / db_file)
        media.check(partial / media.FILE_NAME, media_count)
        _sync(partial)
        final = root / name
        partial.rename(final)
        _sync(root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in final.iterdir() if p.is_file())
    run.status = BackupRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.size_bytes = size
    run.media_files = media_count
    run.save(update_fields=["status", "finished_at", "size_bytes", "media_files"])
    log.info("Backup %s written: %s bytes, %s media files", name, size, media_count)


def _manifest(
    name: str, run: BackupRun, db_file: str, db_size: int, media_count: int, media_size: int
) -> dict[str, Any]:
    """What the backup holds and where it came from (read by the restore)."""
    migrations: dict[str, str] = {}
    for app, migration in MigrationRecorder.Migration.objects.values_list("app", "name"):
        migrations[app] = max(migrations.get(app, ""), migration)
    return {
        "format": MANIFEST_FORMAT,
        "name": name,
        "created_at": run.started_at.isoformat(),
        "run_id": run.pk,
        "database": {"vendor": database.vendor(), "file": db_file, "bytes": db_size},
        "media": {"file": media.FILE_NAME, "files": media_count, "bytes": media_size},
        "migrations": dict(sorted(migrations.items())),
    }


def _sync(folder: Path) -> None:
    """fsync a folder, so that the renames and files in it survive a power cut."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _failed(run: BackupRun, exc: BaseException) -> None:
    error = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, (database.DatabaseBackupError, media.MediaBackupError)):
        error = f"{type(exc).__name__}: {error}"
    run.status = BackupRun.Status.FAILED
    run.finished_at = timezone.now()
    run.error = error[:4000]
    run.save(update_fields=["status", "finished_at", "error"])
    # The record stands even if telling fails (the admin and the dashboard show it anyway).
    try:
        alerts.backup_failed(run)
    except Exception:
        log.exception("Backup %s failed and the Admins could not be notified", run.pk)


# --- restore ---------------------------------------------------------------------------------


def verify(path: Path) -> dict[str, Any]:
    """The backup's manifest if every file matches its checksum; RestoreRefused otherwise."""
    problems = checksums.mismatches(path)
    if problems:
        raise RestoreRefused(
            f"Backup {path.name} is damaged and was not restored: " + "; ".join(problems) + "."
        )
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RestoreRefused(f"Backup {path.name} has no readable manifest: {exc}") from exc
    if manifest.get("format") != MANIFEST_FORMAT:
        raise RestoreRefused(f"Backup {path.name} is of an unknown format.")
    return manifest


def restore_backup(path: Path) -> Restored:
    """Bring back the database and the media of the backup at ``path``, after checking it."""
    manifest = verify(path)
    here = database.vendor()
    there = manifest["database"]["vendor"]
    if there != here:
        raise RestoreRefused(
            f"Backup {path.name} is of a {there} database; this installation uses {here}. "
            "Nothing was restored."
        )
    database.restore(path / manifest["database"]["file"])
    archive = path / manifest["media"]["file"]
    files = (
        media.restore(archive, Path(settings.MEDIA_ROOT))
        if files_media.has_local_paths(default_storage)
        else media.restore_storage(archive, default_storage)
    )
    # The dump was taken while its own run was still "running": the restored record says how
    # that run ended, since the backup being restored is the proof that it succeeded.
    BackupRun.objects.filter(
        pk=manifest.get("run_id"), status=BackupRun.Status.RUNNING, name=manifest["name"]
    ).update(status=BackupRun.Status.SUCCEEDED, finished_at=timezone.now())
    log.warning("Backup %s restored (%s media files)", manifest["name"], files)
    return Restored(name=manifest["name"], created_at=manifest["created_at"], media_files=files)
