"""API keys: made, checked and revoked here, for the REST API and WebSockets alike.

A key is ``<prefix>.<secret>`` (8 + 32 random letters and digits). Only the
prefix (to find the row) and the SHA-512 of the whole key are stored, so a
database dump reveals no usable key; the key itself is shown once, when it is
made (``create_key``: the admin and ``manage.py create_api_key`` call it).

``user_for_key`` is the one check: plain and synchronous, so the DRF
authentication class (``rkh_site.api_auth``) and the WebSocket consumers
(through ``database_sync_to_async``) ask the same question and get the same
answer. A key acts as its user, with that user's role.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import ApiKey, User

#: How often ``last_used_at`` is written at most: a busy client would otherwise
#: turn every read into a write on the same row.
LAST_USED_RESOLUTION = timedelta(minutes=1)

#: What a key made by this project looks like; anything else is refused without a query.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")


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
    _touch(api_key)
    return api_key


def _touch(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional, so parallel requests of one client write the row once a minute.
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ApiKey.objects.filter(pk=api_key.pk).filter(stale).update(last_used_at=now)
    api_key.last_used_at = now
