"""MEDIA_ROOT (originals, renditions, processed files, uploads in progress) into one tar file
and back.

Plain tar, not compressed: the files are JPEG, PNG and HEIC already, and compressing them
again costs CPU for nothing. The restore extracts into a folder inside MEDIA_ROOT first (the
same file system, so the files move into place by renames; in docker-compose MEDIA_ROOT is a
volume's mount point, which cannot be renamed), and only once every file is out does it
remove what was there: a damaged archive leaves the media as they were. Files that were not
in the backup are removed, so the media end up exactly as backed up. Extraction uses Python's
``data`` filter: no absolute paths, no ``..``, no links out of the folder, no devices.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import typing
import uuid
from pathlib import Path

from django.core.files import File
from django.core.files.storage import Storage

from utilities import media as files_media

from .checksums import HashingWriter

FILE_NAME = "media.tar"
#: Folders the restore works in, inside MEDIA_ROOT; never part of a backup.
_WORK_PREFIX = ".restore-"


class MediaBackupError(RuntimeError):
    """Packing or unpacking the media failed; the message says why."""


def _files(root: Path) -> list[Path]:
    found = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if not d.startswith(_WORK_PREFIX)]
        dirs.sort()
        found.extend(here / name for name in sorted(names))
    return found


def pack(root: Path, target: Path) -> tuple[str, int, int]:
    """Write every file under ``root`` into the tar ``target``; (SHA-256 of the bytes
    produced, size, number of files). A file deleted while the archive is written (a rejected
    upload) is left out; it is gone from the database too, or will be."""
    count = 0
    with target.open("wb") as f:
        writer = HashingWriter(f)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            if root.is_dir():
                for path in _files(root):
                    try:
                        tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False)
                    except FileNotFoundError:
                        continue
                    count += 1
        f.flush()
        os.fsync(f.fileno())
    return writer.hexdigest(), writer.size, count


def check(path: Path, expected_files: int) -> None:
    """Read the whole archive back; MediaBackupError unless it holds ``expected_files`` files."""
    try:
        with tarfile.open(path, mode="r|") as tar:
            files = 0
            for member in tar:
                if member.isfile():
                    files += 1
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        while extracted.read(1024 * 1024):
                            pass
    except (tarfile.TarError, OSError) as exc:
        raise MediaBackupError(f"Reading the media archive failed: {exc}") from exc
    if files != expected_files:
        raise MediaBackupError(
            f"The media archive holds {files} files where {expected_files} were written."
        )


def restore(path: Path, root: Path) -> int:
    """Make ``root`` hold exactly the archive's files; how many."""
    root.mkdir(parents=True, exist_ok=True)
    work = root / f"{_WORK_PREFIX}{uuid.uuid4().hex}"
    work.mkdir()
    try:
        try:
            with tarfile.open(path, mode="r|") as tar:
                tar.extractall(work, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise MediaBackupError(f"Extracting the media archive failed: {exc}") from exc
        # Every file is out: now (and only now) replace what was there.
        for entry in root.iterdir():
            if entry == work:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for entry in work.iterdir():
            entry.rename(root / entry.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return len(_files(root))


# --- media in an object store (MEDIA_STORAGE=s3) ---------------------------------------------
# The same tar, made and restored through Django's storage API: each object is streamed into
# the archive and back, never held whole in memory, and nothing lands in MEDIA_ROOT.


def _stored_names(storage: Storage, folder: str = "") -> list[str]:
    dirs, files = storage.listdir(folder)
    prefix = f"{folder}/" if folder else ""
    found = [prefix + name for name in sorted(files)]
    for sub in sorted(dirs):
        if not folder and sub.startswith(_WORK_PREFIX):
            continue
        found.extend(_stored_names(storage, prefix + sub))
    return found


def pack_storage(storage: Storage, target: Path) -> tuple[str, int, int]:
    """``pack`` for media in ``storage`` (an object store): every stored file into ``target``."""
    count = 0
    with target.open("wb") as f:
        writer = HashingWriter(f)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name in _stored_names(storage):
                try:
                    info = tarfile.TarInfo(name)
                    info.size = files_media.size(storage, name)
                    info.mode = 0o640
                    stream = files_media.open_stream(storage, name)
                except FileNotFoundError:  # deleted while the archive is written
                    continue
                try:
                    tar.addfile(info, stream)
                finally:
                    stream.close()
                count += 1
        f.flush()
        os.fsync(f.fileno())
    return writer.hexdigest(), writer.size, count


class _Forward(io.RawIOBase):
    """A tar member read front to back (a streamed archive cannot seek; say so)."""

    def __init__(self, source: typing.BinaryIO) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: typing.Any) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def restore_storage(path: Path, storage: Storage) -> int:
    """Make ``storage`` hold exactly the archive's files; how many.

    The archive is read whole first (``check``, by the caller's verify): a damaged one fails
    before any object is touched. Then each file is written over its object, and objects
    that were not in the backup are deleted.
    """
    kept: set[str] = set()
    try:
        with tarfile.open(path, mode="r|") as tar:
            for member in tar:
                member = tarfile.data_filter(member, "/restore")
                if not member.isfile():
                    continue
                extracted = tar.extractfile(member)
                if extracted is None:
                    continue
                name = member.name
                if storage.exists(name):
                    storage.delete(name)
                saved = storage.save(name, File(_Forward(extracted), name=name))
                kept.add(saved)
    except (tarfile.TarError, OSError) as exc:
        raise MediaBackupError(f"Extracting the media archive failed: {exc}") from exc
    for name in _stored_names(storage):
        if name not in kept:
            storage.delete(name)
    return len(kept)
