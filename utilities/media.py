"""Media through Django's storage API only: local disk or an S3-compatible object store.

Every process (web, workers) may run on another machine, so no code outside this module
assumes a stored file has a local path (``MEDIA_STORAGE=s3``, docs/deployment.md). The few
tools that need a path (libvips seeks, HEIF decoding) get one from ``local_path``: the file
itself where the storage is a local folder, else a temporary copy streamed from the store
that is deleted when the step ends (never left in MEDIA_ROOT, never held whole in memory).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.core.files.storage import Storage

#: Bytes read or written per step when streaming between storage and a temp file or socket.
COPY_CHUNK = 1024 * 1024


def has_local_paths(storage: Storage) -> bool:
    """Whether ``storage`` keeps its files as local files (FileSystemStorage)."""
    try:
        storage.path("x")
    except NotImplementedError:
        return False
    return True


def open_stream(storage: Storage, name: str) -> BinaryIO:
    """``name`` opened for reading in chunks, never downloaded whole first.

    django-storages' ``S3File`` copies the whole object to a temporary file on first read;
    the object's own body streams instead (raises ``FileNotFoundError`` when it is gone).
    """
    bucket = getattr(storage, "bucket", None)
    if bucket is None:
        return storage.open(name, "rb")
    from botocore.exceptions import ClientError
    from storages.utils import clean_name

    key = storage._normalize_name(clean_name(name))  # type: ignore[attr-defined]
    try:
        return bucket.Object(key).get()["Body"]
    except ClientError as exc:
        if _missing(exc):
            raise FileNotFoundError(name) from exc
        raise


def size(storage: Storage, name: str) -> int:
    """The size of ``name``; ``FileNotFoundError`` when it is gone, whatever the storage."""
    try:
        return storage.size(name)
    except FileNotFoundError:
        raise
    except Exception as exc:
        if _missing(exc):
            raise FileNotFoundError(name) from exc
        raise


def _missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    return response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


@contextlib.contextmanager
def local_path(storage: Storage, name: str, *, prefix: str = "media-") -> Iterator[Path]:
    """A local path holding the bytes of ``name`` for the duration of the block.

    Local storage: the file itself. Object storage: a temporary file (in the system temp
    folder, not MEDIA_ROOT) streamed from the store, deleted after the block. Raises
    ``FileNotFoundError`` when the file is gone.
    """
    if has_local_paths(storage):
        path = Path(storage.path(name))
        if not path.is_file():
            raise FileNotFoundError(name)
        yield path
        return
    suffix = Path(name).suffix
    with tempfile.NamedTemporaryFile(prefix=prefix, suffix=suffix) as copy:
        source = open_stream(storage, name)
        try:
            shutil.copyfileobj(source, copy, COPY_CHUNK)
        finally:
            source.close()
        copy.flush()
        yield Path(copy.name)


class StoredContent:
    """A stored file as a body that can be sent again (``pmr.clients.bodies``): its length
    and a fresh stream from the storage for every attempt."""

    def __init__(self, storage: Storage, name: str) -> None:
        self.storage, self.name = storage, name

    @functools.cached_property
    def length(self) -> int:
        """The stored size (asked when the body is made, not before: a missing file raises
        ``FileNotFoundError`` where the sender expects it)."""
        return size(self.storage, self.name)

    def open(self) -> BinaryIO:
        return open_stream(self.storage, self.name)


def delete_folder(storage: Storage, folder: str) -> None:
    """Delete every file under ``folder`` (one level), and the folder itself on local disk."""
    try:
        _dirs, files = storage.listdir(folder)
    except FileNotFoundError:
        files = []
    for name in files:
        storage.delete(f"{folder}/{name}")
    if has_local_paths(storage):
        with contextlib.suppress(OSError):
            os.rmdir(storage.path(folder))
