"""The backups in BACKUP_DIR: their names, which is the latest, and rotation.

A backup is a folder ``rkh-YYYYMMDD-HHMMSS`` (UTC; names sort in time order) holding the
database dump, ``media.tar``, ``manifest.json`` and ``SHA256SUMS``. It is written as
``.partial-<name>`` and renamed when it is complete and verified, so a backup that failed half
way, or a machine that stopped during one, never looks like a backup; rotation deletes such
leftovers once they are a day old.
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import datetime
from pathlib import Path

from django.conf import settings

from .checksums import SUMS_FILE
from .models import BackupRun

NAME_PATTERN = re.compile(r"^rkh-\d{8}-\d{6}(-\d+)?$")
PARTIAL_PREFIX = ".partial-"
#: A partial folder older than this is a leftover (its run died); rotation removes it.
PARTIAL_MAX_AGE_SECONDS = 24 * 3600


def folder() -> Path:
    return Path(settings.BACKUP_DIR)


def new_name(now: datetime) -> str:
    """A name no backup has had: none in the folder, none recorded (one rotated out may not
    lend its name to a newer one: the record would then name two backups)."""
    base = f"rkh-{now:%Y%m%d-%H%M%S}"
    name, n = base, 1
    while (
        (folder() / name).exists()
        or (folder() / f"{PARTIAL_PREFIX}{name}").exists()
        or BackupRun.objects.filter(name=name).exists()
    ):
        n += 1
        name = f"{base}-{n}"
    return name


def complete() -> list[Path]:
    """Complete backups, oldest first."""
    if not folder().is_dir():
        return []
    found = [
        p
        for p in folder().iterdir()
        if p.is_dir() and NAME_PATTERN.match(p.name) and (p / SUMS_FILE).is_file()
    ]
    return sorted(found, key=lambda p: _sort_key(p.name))


def _sort_key(name: str) -> tuple[str, int]:
    """``rkh-YYYYMMDD-HHMMSS`` (19 characters), then the ``-n`` of a second one that second."""
    return name[:19], int(name[20:] or 1)


def find(name: str) -> Path | None:
    """The complete backup called ``name`` (a name, never a path)."""
    if not NAME_PATTERN.match(name):
        return None
    path = folder() / name
    return path if path in complete() else None


def latest() -> Path | None:
    backups = complete()
    return backups[-1] if backups else None


def rotate(keep: int) -> list[str]:
    """Delete all but the newest ``keep`` complete backups, and partial leftovers older than
    a day; the names deleted."""
    deleted = []
    backups = complete()
    for path in backups[: max(0, len(backups) - max(1, keep))]:
        shutil.rmtree(path)
        deleted.append(path.name)
    if folder().is_dir():
        now = time.time()
        for path in folder().iterdir():
            leftover = path.name.startswith(PARTIAL_PREFIX) and path.is_dir()
            if leftover and now - path.stat().st_mtime > PARTIAL_MAX_AGE_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
                deleted.append(path.name)
    return deleted
