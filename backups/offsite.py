"""A copy of each backup in an S3-compatible bucket (``BACKUP_S3_BUCKET``): off the machine.

A backup beside the data it saves is lost with that disk; with the bucket set, every verified
backup folder is uploaded file by file (streamed), ``SHA256SUMS`` last, so a folder in the
bucket that has it is complete. ``manage.py restore_backup --download`` fetches one back into
``BACKUP_DIR``, where it is checked against the same checksums before anything is restored.
Rotation keeps ``BACKUP_KEEP`` in the bucket too. Use another bucket (ideally another store)
than the media's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.core.files import File

from utilities import media

from . import catalog
from .checksums import SUMS_FILE


class OffsiteError(RuntimeError):
    """Copying a backup to or from the bucket failed; the message says why."""


def enabled() -> bool:
    return bool(settings.BACKUP_S3_BUCKET)


def _storage():
    from storages.backends.s3 import S3Storage

    return S3Storage(**settings.BACKUP_S3_OPTIONS)


def upload(folder: Path) -> int:
    """Copy the complete backup ``folder`` to the bucket; how many files."""
    storage = _storage()
    files = sorted(p for p in folder.iterdir() if p.is_file())
    files.sort(key=lambda p: p.name == SUMS_FILE)  # the checksums last: they mark it complete
    for path in files:
        name = f"{folder.name}/{path.name}"
        with path.open("rb") as handle:
            saved = storage.save(name, File(handle, name=path.name))
        if saved != name or media.size(storage, name) != path.stat().st_size:
            raise OffsiteError(f"{name} did not reach the backup bucket whole.")
    return len(files)


def names() -> list[str]:
    """The complete backups in the bucket, oldest first."""
    storage = _storage()
    dirs, _files = storage.listdir("")
    found = []
    for name in dirs:
        if not catalog.NAME_PATTERN.match(name):
            continue
        if SUMS_FILE in storage.listdir(name)[1]:
            found.append(name)
    return sorted(found, key=catalog._sort_key)


def download(name: str) -> Path:
    """Fetch the backup ``name`` from the bucket into BACKUP_DIR (checked later, as any)."""
    if name not in names():
        raise OffsiteError(f"No complete backup called {name} in the backup bucket.")
    storage = _storage()
    root = catalog.folder()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = root / name
    if final.exists():
        return final
    partial = root / f"{catalog.PARTIAL_PREFIX}{name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(mode=0o700)
    try:
        for file in storage.listdir(name)[1]:
            stream = media.open_stream(storage, f"{name}/{file}")
            try:
                with (partial / file).open("wb") as out:
                    shutil.copyfileobj(stream, out, media.COPY_CHUNK)
            finally:
                stream.close()
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def rotate(keep: int) -> list[str]:
    """Delete all but the newest ``keep`` backups in the bucket; the names deleted."""
    storage = _storage()
    backups = names()
    deleted = []
    for name in backups[: max(0, len(backups) - max(1, keep))]:
        for file in storage.listdir(name)[1]:
            storage.delete(f"{name}/{file}")
        deleted.append(name)
    return deleted
