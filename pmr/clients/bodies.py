"""Image bodies that can be sent more than once without holding the file in memory twice.

A retry (or the one repeat after a refreshed token) must send the same bytes again, so a body
is a recipe: bytes are reused as they are, a path is reopened, an open file is rewound to
where it started, and a reopenable source (an object with ``length`` and ``open()``, e.g. a
file in object storage) is opened again. Files are streamed in chunks; the SHA-256 is
computed the same way when the caller does not already know it.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from typing import BinaryIO, Protocol, runtime_checkable

CHUNK_BYTES = 1024 * 1024


@runtime_checkable
class Reopenable(Protocol):
    """A stored file that can be streamed from its start any number of times."""

    length: int

    def open(self) -> BinaryIO: ...


ImageContent = Reopenable | bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO


class ReplayableBody:
    """``length``, ``sha256()`` and a fresh ``content()`` for every attempt."""

    def __init__(self, content: ImageContent) -> None:
        self._bytes: bytes | None = None
        self._path: str | None = None
        self._file: BinaryIO | None = None
        self._source: Reopenable | None = None
        self._start = 0
        if isinstance(content, Reopenable):
            self._source = content
            self.length = content.length
        elif isinstance(content, bytes | bytearray | memoryview):
            self._bytes = bytes(content)
            self.length = len(self._bytes)
        elif isinstance(content, str | os.PathLike):
            self._path = os.fspath(content)
            self.length = os.stat(self._path).st_size
        elif hasattr(content, "read") and hasattr(content, "seek"):
            self._file = content
            self._start = content.tell()
            self.length = content.seek(0, io.SEEK_END) - self._start
            content.seek(self._start)
        else:
            raise TypeError(f"image content must be bytes, a path or a seekable file: {content!r}")

    def content(self) -> bytes | Iterator[bytes]:
        """What to hand httpx for one attempt (a new stream each time)."""
        if self._bytes is not None:
            return self._bytes
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        if self._path is not None:
            with open(self._path, "rb") as handle:
                yield from _read_chunks(handle)
            return
        if self._source is not None:
            stream = self._source.open()
            try:
                yield from _read_chunks(stream)
            finally:
                stream.close()
            return
        assert self._file is not None
        self._file.seek(self._start)
        yield from _read_chunks(self._file)

    def sha256(self) -> str:
        if self._bytes is not None:
            return hashlib.sha256(self._bytes).hexdigest()
        digest = hashlib.sha256()
        for chunk in self._chunks():
            digest.update(chunk)
        return digest.hexdigest()


def _read_chunks(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK_BYTES):
        yield chunk
