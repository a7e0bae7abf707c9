"""The database into one file and back: PostgreSQL with pg_dump / pg_restore, SQLite with its
online backup API.

Why these and not a copy of the data through Django (dumpdata): they are the database's own
tools, exact to the byte for every column type, sequence and constraint, and fast.

- PostgreSQL: ``pg_dump --format=custom`` (compressed, read by ``pg_restore``), streamed
  through a hash as it is written. The restore is ``pg_restore --clean --if-exists
  --single-transaction --exit-on-error``: every table of the dump is dropped and created again
  with its rows, all or nothing. It waits at most ``lock_timeout`` for the tables: stop the web
  and worker processes first (docs/deployment.md).
- SQLite: the online backup API copies a consistent snapshot while the web process and
  workers go on writing (a file copy of a WAL database is not consistent); the copy is
  switched to a self-contained single file (journal mode DELETE) and checked with
  ``PRAGMA integrity_check``. The restore copies it back with the same API into the live file,
  under SQLite's lock, so the WAL files stay consistent (overwriting the file would not).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.db import connections

from .checksums import HashingWriter, file_sha256

#: File name of the dump in a backup's folder, per database vendor.
FILE_NAMES = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
#: How long the restore waits for a table another process holds before it gives up.
RESTORE_LOCK_TIMEOUT = "30s"
_CHUNK = 1024 * 1024


class DatabaseBackupError(RuntimeError):
    """The dump or the restore failed; the message says why (the tool's own words)."""


def vendor(alias: str = "default") -> str:
    return connections[alias].vendor


def file_name(alias: str = "default") -> str:
    name = FILE_NAMES.get(vendor(alias))
    if name is None:
        raise DatabaseBackupError(f"Backups do not support the {vendor(alias)} database.")
    return name


def _sqlite_path(alias: str) -> Path:
    name = str(connections[alias].settings_dict["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        raise DatabaseBackupError(
            f"The SQLite database “{name}” is not a file; nothing to back up."
        )
    return Path(name)


def _pg_env(alias: str) -> dict[str, str]:
    """libpq's environment for the database Django uses: the password never on a command
    line (``ps`` shows those)."""
    conf: dict[str, Any] = connections[alias].settings_dict
    env = dict(os.environ)
    for key, variable in (
        ("NAME", "PGDATABASE"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
    ):
        if conf.get(key):
            env[variable] = str(conf[key])
    options = conf.get("OPTIONS") or {}
    if options.get("sslmode"):
        env["PGSSLMODE"] = str(options["sslmode"])
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    return env


def _run_tool(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise DatabaseBackupError(
            f"{argv[0]} is not installed (PostgreSQL's client tools: postgresql-client)."
        ) from exc
    if result.returncode != 0:
        raise DatabaseBackupError(f"{what} failed: {result.stderr.strip()[-2000:]}")


def dump(target: Path, alias: str = "default") -> tuple[str, int]:
    """Write the database into ``target``; (SHA-256 of the bytes produced, size)."""
    kind = vendor(alias)
    if kind == "postgresql":
        return _pg_dump(target, alias)
    if kind == "sqlite":
        return _sqlite_dump(target, alias)
    raise DatabaseBackupError(f"Backups do not support the {kind} database.")


def _pg_dump(target: Path, alias: str) -> tuple[str, int]:
    argv = ["pg_dump", "--format=custom", "--compress=6"]
    try:
        proc = subprocess.Popen(  # noqa: S603
            argv, env=_pg_env(alias), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError as exc:
        raise DatabaseBackupError(
            "pg_dump is not installed (PostgreSQL's client tools: postgresql-client)."
        ) from exc
    assert proc.stdout is not None
    assert proc.stderr is not None
    with target.open("wb") as f:
        writer = HashingWriter(f)
        while chunk := proc.stdout.read(_CHUNK):
            writer.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    errors = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise DatabaseBackupError(f"pg_dump failed: {errors.strip()[-2000:]}")
    return writer.hexdigest(), writer.size


def _sqlite_dump(target: Path, alias: str) -> tuple[str, int]:
    _sqlite_path(alias)  # refuses an in-memory database
    connection = connections[alias]
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy)
        # A single self-contained file (the source is in WAL mode, and the copy inherits it).
        copy.execute("PRAGMA journal_mode=DELETE").fetchall()
    finally:
        copy.close()
    return file_sha256(target), target.stat().st_size


def check(path: Path) -> None:
    """Read the written dump back with the database's own tool; DatabaseBackupError if it
    cannot be read whole."""
    if path.name == FILE_NAMES["postgresql"]:
        # pg_restore --list reads the archive's table of contents and fails on a damaged one.
        _run_tool(["pg_restore", "--list", str(path)], dict(os.environ), "Reading the dump")
        return
    copy = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        answer = copy.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise DatabaseBackupError(f"Reading the dump failed: {exc}") from exc
    finally:
        copy.close()
    if answer != [("ok",)]:
        raise DatabaseBackupError(f"The dump's integrity check failed: {answer[:5]}")


def restore(path: Path, alias: str = "default") -> None:
    """Replace the database's contents with the dump at ``path`` (of this vendor)."""
    kind = vendor(alias)
    expected = FILE_NAMES.get(kind)
    if path.name != expected:
        raise DatabaseBackupError(
            f"This backup holds {path.name}, which cannot be restored into a {kind} database."
        )
    # Our own connections hold no lock while idle, but give them up: the restore rewrites
    # every table, and a pooled connection must not keep a stale view of them.
    connections.close_all()
    if kind == "postgresql":
        env = _pg_env(alias)
        env["PGOPTIONS"] = f"-c lock_timeout={RESTORE_LOCK_TIMEOUT}"
        argv = [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={env.get('PGDATABASE', '')}",
            str(path),
        ]
        _run_tool(argv, env, "pg_restore")
        return
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(_sqlite_path(alias), timeout=60)
    try:
        source.backup(target)
    except sqlite3.Error as exc:
        raise DatabaseBackupError(f"Restoring the SQLite database failed: {exc}") from exc
    finally:
        target.close()
        source.close()
