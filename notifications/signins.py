"""Repeated failed sign-ins: Admins hear once per account and window, with the source IP.

Django sends ``user_login_failed`` for every failed ``authenticate`` (allauth's
sign-in page and the API's ``/auth/login`` both go through it) with the
credentials, the password already masked; only the username or e-mail is read
here. Failures are counted per account name in Redis, in a window that starts
with the first failure and lasts ``NOTIFY_SIGNIN_WINDOW_MINUTES``; the failure
that reaches ``NOTIFY_SIGNIN_FAILURES`` queues the notification (the window's
start is in its source key, so a second one for the same window is never made).
Later failures in the same window add nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

from accounts.signin_limits import attempt_key
from utilities.redis_clients import shared
from utilities.redis_scripts import SIGNIN_COUNT

from . import tasks

log = logging.getLogger(__name__)


def _name(credentials: dict[str, Any]) -> str:
    for field in ("username", "login", "email"):
        value = credentials.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()[:150]
    return ""


def _client_ip(request: Any) -> str:
    if request is None:
        return ""
    meta = getattr(request, "META", {}) or {}
    return str(meta.get("REMOTE_ADDR", ""))[:45]


def _count(key: str, minutes: int) -> tuple[int, int] | None:
    """This failure counted under ``key`` in its window: (count, window start); None if Redis
    is away."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    try:
        count, start = shared().eval(
            SIGNIN_COUNT,
            2,
            f"rkh:notify:signins:{digest}:count",
            f"rkh:notify:signins:{digest}:start",
            int(time.time()),
            minutes * 60,
        )
    except redis.RedisError:
        log.warning("Failed sign-in not counted (Redis)", exc_info=True)
        return None
    return int(count), int(start or 0)


def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kw) -> None:
    """``user_login_failed`` receiver: count per account and per address; at the threshold
    queue the notification (once per window for each).

    The sign-in page locks out an account, and an address, after as many failures
    (allauth's "login_failed" limits); the address count catches one machine trying many
    names, which no single account's count shows. Never raises: a sign-in page must answer
    "wrong password" whatever Redis does.
    """
    username = _name(credentials or {})
    if not username:
        return
    minutes = max(1, int(settings.NOTIFY_SIGNIN_WINDOW_MINUTES))
    threshold = max(1, int(settings.NOTIFY_SIGNIN_FAILURES))
    ip = _client_ip(request)
    # One counter per account, whether its username or its e-mail was typed.
    key = attempt_key(username)
    counted = _count(key, minutes)
    if counted is not None and counted[0] == threshold:
        count, start = counted
        account = int(key.split(":", 1)[1]) if key.startswith("account:") else None
        args = (username, count, minutes, ip, f"{key}:{start}", account)
        transaction.on_commit(lambda: tasks.notify_failed_signins.delay(*args), robust=True)
    if not ip:
        return
    from_address = _count(f"address:{ip}", minutes)
    if from_address is not None and from_address[0] == threshold:
        count, start = from_address
        address_args = (ip, count, minutes, f"address:{ip}:{start}")
        transaction.on_commit(
            lambda: tasks.notify_signins_from_address.delay(*address_args), robust=True
        )
