"""SHA-256 checksums of a backup's files, in the ``sha256sum`` format (``SHA256SUMS``).

The manifest lies beside the files it names, so an operator can check a backup by hand
(``cd BACKUP_DIR/<name> && sha256sum -c SHA256SUMS``) with the same result as
``restore_backup``. The backup writes it, then reads every file back against it; the restore
reads every file against it again before touching anything.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

SUMS_FILE = "SHA256SUMS"
_CHUNK = 1024 * 1024


class HashingWriter:
    """A file wrapper that hashes what passes through it, so the bytes produced can be
    compared with the bytes read back from the disk afterwards."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._target.write(data)

    def flush(self) -> None:
        self._target.flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_sums(folder: Path, sums: dict[str, str]) -> Path:
    """Write ``SHA256SUMS`` for ``{file name: hex digest}`` (names relative to ``folder``)."""
    path = folder / SUMS_FILE
    lines = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
    path.write_text(lines, encoding="utf-8")
    return path


def read_sums(folder: Path) -> dict[str, str]:
    """``{file name: hex digest}`` from the folder's ``SHA256SUMS``; ValueError if it is
    missing or not in the format written above."""
    path = folder / SUMS_FILE
    if not path.is_file():
        raise ValueError(f"{SUMS_FILE} is missing")
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        name = name.removeprefix("*")
        if (
            not sep
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
            or not name
            or "/" in name
            or name.startswith(".")
        ):
            raise ValueError(f"{SUMS_FILE} line {number} is not “<sha256>  <file name>”")
        sums[name] = digest
    if not sums:
        raise ValueError(f"{SUMS_FILE} names no file")
    return sums


def mismatches(folder: Path) -> list[str]:
    """Every problem of the folder against its ``SHA256SUMS``, as sentences; [] when every
    file named is there with its checksum."""
    try:
        sums = read_sums(folder)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    for name, expected in sums.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
            continue
        found = file_sha256(path)
        if found != expected:
            problems.append(f"{name}: checksum {found[:12]}… does not match {expected[:12]}…")
    return problems
