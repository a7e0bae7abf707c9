"""Helpers that turn the environment into settings values.

Kept out of ``settings.py`` so they can be tested alone and reused by the
start-up scripts (embedded Redis, service waits) without importing Django.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Callable
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


def local_vapid_keys(path: Path) -> tuple[str, str]:
    """The local Web Push (VAPID) key pair, created on the first run: (public, private).

    Only used when ``DEBUG`` is on and no keys are set, like ``local_secret_key``:
    push works on a developer machine with no setup, and no key is ever in the
    repository. The file (mode 0600) holds the private key as base64url of its
    32 raw bytes, the format ``VAPID_PRIVATE_KEY`` takes; the public key is
    derived from it.
    """
    # cryptography is imported here, not at the top: settings.py and the start-up scripts
    # (embedded Redis) import this module, and only a DEBUG run without keys needs it.
    from cryptography.hazmat.primitives.asymmetric import ec

    for _ in range(50):
        if path.exists():
            private = path.read_text().strip()
            if private:
                return vapid_public_key(private), private
            time.sleep(0.02)  # another process is writing it
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        private = _b64url(key.private_numbers().private_value.to_bytes(32, "big"))
        try:
            # O_EXCL: processes starting together (web, workers, beat) agree on one pair.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(private)
        return vapid_public_key(private), private
    raise RuntimeError(f"{path} stays empty; delete it to make a new key pair")


def vapid_public_key(private: str) -> str:
    """The public key (base64url of the uncompressed P-256 point, the browser's
    ``applicationServerKey``) of a private key given as base64url of 32 raw bytes.

    Raises ``ValueError`` for a value that is not such a key.
    """
    # cryptography here, not at the top: see local_vapid_keys.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        raw = base64.urlsafe_b64decode(private.strip() + "=" * (-len(private.strip()) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("VAPID_PRIVATE_KEY is not base64url") from exc
    if len(raw) != 32:
        raise ValueError("VAPID_PRIVATE_KEY must be 32 bytes (base64url, 43 characters)")
    key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(point)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_fernet_key() -> str:
    """A new key for ``FIELD_ENCRYPTION_KEYS``: 32 random bytes, urlsafe base64 (Fernet's)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def new_hash_key() -> str:
    """A new ``FIELD_HASH_KEY``: 48 random bytes, urlsafe base64 (64 characters)."""
    return secrets.token_urlsafe(48)


def bad_fernet_keys(keys: list[str]) -> list[int]:
    """Positions (from 1) of the entries of ``keys`` that are not Fernet keys."""
    bad = []
    for number, key in enumerate(keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            bad.append(number)
            continue
        if len(raw) != 32:
            bad.append(number)
    return bad


def local_key(path: Path, make: Callable[[], str]) -> str:
    """A key kept in ``path`` (mode 0600), made by ``make`` on the first run.

    For ``DEBUG`` runs without the key in the environment, like ``local_secret_key``; created
    with ``O_EXCL`` so processes starting together (web, workers, beat) agree on one key,
    which matters for keys that encrypt or hash stored data.
    """
    for _ in range(50):
        if path.exists():
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.02)  # another process is writing it
            continue
        key = make()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key
    raise RuntimeError(f"{path} stays empty; delete it to make a new key")
