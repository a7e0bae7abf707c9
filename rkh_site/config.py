"""Helpers that turn the environment into settings values.

Kept out of ``settings.py`` so they can be tested alone and reused by the
start-up scripts (embedded Redis, service waits) without importing Django.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

#: Port of the embedded Redis (Valkey) that ``make run`` starts when no
#: ``REDIS_URL`` is configured. One above the web port of the original design.
EMBEDDED_REDIS_PORT_DEFAULT = 56790


def var_dir() -> Path:
    """The folder for local state (SQLite, media, secret key, embedded Redis)."""
    path = Path(os.environ.get("RKH_VAR_DIR", BASE_DIR / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedded_redis_port() -> int:
    return int(os.environ.get("EMBEDDED_REDIS_PORT", EMBEDDED_REDIS_PORT_DEFAULT))


def redis_url() -> str:
    """``REDIS_URL`` if set, otherwise the address of the embedded Redis."""
    return os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{embedded_redis_port()}/0"


def uses_embedded_redis() -> bool:
    return not os.environ.get("REDIS_URL")


def local_secret_key(path: Path) -> str:
    """Read the local secret key, creating it on the first run.

    Only used when ``DEBUG`` is on: a developer machine gets a stable key
    (sessions survive restarts) without one ever being committed. The file is
    created with mode 0600 so other local users cannot read it.
    """
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    key = secrets.token_urlsafe(64)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
