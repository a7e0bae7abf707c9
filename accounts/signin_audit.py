"""Sign-ins, failed sign-ins and sign-outs go into the audit log (``utilities.audit``).

Django's auth signals cover every way in: allauth's sign-in page, single sign-on and the API's
``/auth/login`` all end in ``login()``/``authenticate()``. A failed attempt is recorded against
the account the typed name belongs to (username or e-mail, as the sign-in limits count it),
or, for a name no account has, against no object with the name as typed. The password is
never read (Django masks it in the signal anyway).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from utilities.audit import record_access, record_unknown_access

from .signin_limits import attempt_key


def _method(request: Any) -> str:
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/"):
        return "api"
    if "/microsoft/" in path or "/google/" in path or "/3rdparty/" in path:
        return "single sign-on"
    return "password"


@receiver(user_logged_in, dispatch_uid="accounts.audit.signed_in")
def signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_access(user, "signed_in", actor=user, request=request, method=_method(request))


@receiver(user_logged_out, dispatch_uid="accounts.audit.signed_out")
def signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:  # a sign-out without a session has nobody to name
        record_access(user, "signed_out", actor=user, request=request)


@receiver(user_login_failed, dispatch_uid="accounts.audit.sign_in_failed")
def sign_in_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    typed = next(
        (
            str(credentials.get(field)).strip()
            for field in ("username", "login", "email")
            if isinstance(credentials.get(field), str) and credentials.get(field).strip()
        ),
        "",
    )
    if not typed:
        return
    key = attempt_key(typed)
    user_model = get_user_model()
    if key.startswith("account:"):
        account = user_model.objects.get(pk=int(key.split(":", 1)[1]))
        record_access(account, "sign_in_failed", request=request, typed=typed[:150])
    else:
        record_unknown_access(
            user_model, f"unknown: {typed[:150]}", "sign_in_failed", request=request
        )
