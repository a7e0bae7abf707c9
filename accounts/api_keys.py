"""API keys: made, checked and revoked here, for the REST API and WebSockets alike.

A key is ``<prefix>.<secret>`` (8 + 32 random letters and digits). Only the
prefix (to find the row) and the SHA-512 of the whole key are stored, so a
database dump reveals no usable key; the key itself is shown once, when it is
made (``create_key``: the admin and ``manage.py create_api_key`` call it).

``user_for_key`` is the one check: plain and synchronous, so the DRF
authentication class (``rkh_site.api_auth``) and the WebSocket consumers
(through ``database_sync_to_async``) ask the same question and get the same
answer. A key acts as its user, with that user's role.

A checked key is remembered in this process for ``KEY_CACHE_SECONDS`` (the row, its user and
the user's permissions: three queries a request otherwise), as long as a generation token in
Redis has not changed since. Everything that can withdraw or change what a key may do (a
key saved or deleted: revoked, expiry changed; its user saved or deleted: deactivated; a
user's groups or permissions, a group's permissions changed) sets a new token once its
transaction commits (``forget_checked_keys``), so every process asks the database again at
its next request: revocation takes effect at once, not after the TTL. Without Redis nothing
is remembered. The secret is still compared with the stored SHA-512 on every request.
"""

from __future__ import annotations

import contextlib
import copy
import re
import secrets
import threading
import time
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from utilities.infrastructure import REDIS_ERRORS

from .models import ApiKey, User

#: How often ``last_used_at`` is written at most: a busy client would otherwise
#: turn every read into a write on the same row.
LAST_USED_RESOLUTION = timedelta(minutes=1)

#: What a key made by this project looks like; anything else is refused without a query.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")

#: How long this process trusts a checked key without the database (shorter than
#: ``LAST_USED_RESOLUTION``, so ``last_used_at`` stays within about a minute and a half).
KEY_CACHE_SECONDS = 30
#: The Redis key of the generation token; a new token withdraws every remembered key.
_GENERATION_KEY = "api-keys:generation"
#: prefix -> (monotonic time checked, generation token, row with its user and permissions).
_checked: dict[str, tuple[float, str | None, ApiKey]] = {}
_checked_lock = threading.Lock()
#: The most keys remembered per process (a flood of distinct valid keys cannot grow it).
_CHECKED_MAX = 1000


def create_key(user: User, name: str, *, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """Make a key for ``user``; returns the row and the key, which is never stored.

    Show the key to the person once: it cannot be recovered, only replaced.
    """
    with transaction.atomic():
        return ApiKey.objects.create_key(user=user, name=name, expiry_date=expires_at)


def revoke(key: ApiKey) -> None:
    """Revoke a key for good (the package refuses to un-revoke it)."""
    if not key.revoked:
        key.revoked = True
        key.save(update_fields=["revoked"])


def user_for_key(raw_key: str) -> User | None:
    """The active user a raw key belongs to, or ``None``.

    ``None`` for a malformed, unknown, revoked or expired key and for a key of
    an inactive user. A valid key's ``last_used_at`` is brought up to date,
    at most once per ``LAST_USED_RESOLUTION``. Synchronous: call it through
    ``database_sync_to_async`` from async code.
    """
    api_key = key_for(raw_key)
    return api_key.user if api_key is not None else None


def key_for(raw_key: str) -> ApiKey | None:
    """The usable ``ApiKey`` row for a raw key (its ``user`` loaded), or ``None``."""
    if not isinstance(raw_key, str):
        return None
    raw_key = raw_key.strip()
    if not _KEY_SHAPE.fullmatch(raw_key):
        return None
    prefix = raw_key.partition(".")[0]
    generation, readable = _generation()
    api_key = _remembered(prefix, generation) if readable else None
    fresh = api_key is None
    if fresh:
        api_key = (
            ApiKey.objects.select_related("user")
            .filter(prefix=prefix, revoked=False, user__is_active=True)
            .first()
        )
    if api_key is None or api_key.has_expired:
        return None
    # Constant-time comparison of the SHA-512 (the package's hasher).
    if not ApiKey.objects.key_generator.verify(raw_key, api_key.hashed_key):
        return None
    if fresh:
        _touch(api_key)
        if readable:
            api_key.user.get_all_permissions()  # the 2 queries, kept with the row
            _remember(prefix, generation, api_key)
            api_key = _private_copy(api_key)
    return api_key


def forget_checked_keys() -> None:
    """Make every process check keys against the database again (a new generation token).

    Called after a commit that may change what a key may do (``accounts.signals``). If Redis
    is away the token cannot change, but then no process trusts a remembered key either.
    """
    with _checked_lock:
        _checked.clear()
    with contextlib.suppress(*REDIS_ERRORS):
        cache.set(_GENERATION_KEY, secrets.token_hex(8), timeout=None)


def _generation() -> tuple[str | None, bool]:
    """The current generation token (``None`` if never set) and whether Redis answered."""
    try:
        return cache.get(_GENERATION_KEY), True
    except REDIS_ERRORS:
        return None, False


def _remembered(prefix: str, generation: str | None) -> ApiKey | None:
    entry = _checked.get(prefix)
    if entry is None:
        return None
    checked_at, entry_generation, api_key = entry
    if entry_generation != generation or time.monotonic() - checked_at > KEY_CACHE_SECONDS:
        with _checked_lock:
            if _checked.get(prefix) is entry:
                del _checked[prefix]
        return None
    return _private_copy(api_key)


def _remember(prefix: str, generation: str | None, api_key: ApiKey) -> None:
    with _checked_lock:
        if len(_checked) >= _CHECKED_MAX:
            _checked.clear()
        _checked[prefix] = (time.monotonic(), generation, api_key)


def _private_copy(api_key: ApiKey) -> ApiKey:
    """A copy per request: a view may set attributes on ``request.user`` or ``request.auth``;
    the permission sets (read only) are shared."""
    api_key = copy.copy(api_key)
    api_key.user = copy.copy(api_key.user)
    return api_key


def _touch(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional, so parallel requests of one client write the row once a minute.
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ApiKey.objects.filter(pk=api_key.pk).filter(stale).update(last_used_at=now)
    api_key.last_used_at = now
