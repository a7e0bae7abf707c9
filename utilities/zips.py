"""Files into ZIP archives, streamed: the exports of the studio (an order for the PMR by hand,
everything about one customer) copy stored photos of any size without holding them in memory."""

from __future__ import annotations

import hashlib
import zipfile
from typing import BinaryIO

CHUNK = 1024 * 1024


def copy_into(archive: zipfile.ZipFile, name: str, source: BinaryIO) -> tuple[str, int]:
    """Copy ``source`` into ``archive`` as ``name``; its SHA-256 (hex) and size in bytes."""
    digest, size = hashlib.sha256(), 0
    with archive.open(name, "w") as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
    return digest.hexdigest(), size


class ChunkCopy:
    """``source`` read in ``CHUNK``s (iterate it), counting its SHA-256 and size as it goes:
    for writers that must hand each chunk on (a streamed ZIP) instead of ``copy_into``."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self._digest = hashlib.sha256()
        self.size = 0

    def __iter__(self):
        while chunk := self.source.read(CHUNK):
            self._digest.update(chunk)
            self.size += len(chunk)
            yield chunk

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()
