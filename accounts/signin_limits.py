"""Failed sign-ins are counted per account, whichever name the person typed.

allauth's per-key limit (``ACCOUNT_RATE_LIMITS["login_failed"]``, "5/5m/key") and the admins'
alert (``notifications.signins``) both counted what was typed: the username and the e-mail of
one account were two counters, so an attacker had twice the tries. ``attempt_key`` maps a typed
name to the account it signs in to (by username or e-mail, case-insensitive), or to the typed
name itself when no account has it (unknown names are still limited, one by one).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def attempt_key(typed: str) -> str:
    """``account:<pk>`` for the account ``typed`` names, else ``name:<typed, lowercased>``."""
    typed = (typed or "").strip()
    account = (
        get_user_model()
        .objects.filter(Q(username__iexact=typed) | Q(email__iexact=typed))
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
        if typed
        else None
    )
    return f"account:{account}" if account is not None else f"name:{typed.lower()}"


def _seconds(period: str) -> int:
    """``5m`` -> 300; a bare number is seconds; ``m`` alone is one minute (allauth's syntax)."""
    period = period.strip()
    unit = _UNITS.get(period[-1:], 1)
    number = period[:-1] if period[-1:] in _UNITS else period
    return int(number or 1) * unit


def retry_after_seconds() -> int:
    """How long a person locked out of signing in waits at most: the longest window of the
    ``login_failed`` limits (``"5/5m/ip,5/5m/key"`` -> 300). Each failure leaves its window
    after that long, so by then the count is under the limit again."""
    rates = settings.ACCOUNT_RATE_LIMITS.get("login_failed") or ""
    windows = [_seconds(rate.split("/")[1]) for rate in rates.split(",") if rate.count("/") >= 1]
    return max(windows, default=300)
