"""Image bytes of the simulated PMR, on disk and addressed by SHA-256.

Uploads are streamed to a temporary file while hashed, so a 50 MB image never sits in memory;
the file is renamed to its hash once the checksum matches. The JSON state holds only the
hash. Without a directory of its own the store uses a temporary one, removed by ``close()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path


class BlobStore:
    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="pmr-sim-blobs-")
            directory = self._temporary.name
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def open_upload(self) -> Upload:
        return Upload(self.directory / f".upload-{uuid.uuid4().hex}")

    def path(self, sha256: str) -> Path:
        return self.directory / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def clear(self) -> None:
        for entry in self.directory.iterdir():
            with contextlib.suppress(OSError):
                entry.unlink()

    def close(self) -> None:
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None


class Upload:
    """One upload in progress: ``write`` chunks, then ``commit`` (by hash) or ``discard``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._digest = hashlib.sha256()
        self._handle = open(path, "wb")  # noqa: SIM115 - closed by commit/discard

    def write(self, chunk: bytes) -> None:
        self._handle.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def commit(self, target: Path) -> bool:
        """Move the bytes to ``target``; False (and nothing written) when it already exists."""
        self._handle.close()
        if target.exists():
            self.path.unlink(missing_ok=True)
            return False
        shutil.move(self.path, target)
        return True

    def discard(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)
