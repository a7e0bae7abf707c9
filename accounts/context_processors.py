"""Template context: the signed-in user's role, for navigation."""

from django.conf import settings

from utilities import access

from .roles import role_of


def roles(request) -> dict:
    user = getattr(request, "user", None)
    return {
        "user_role": role_of(user) if user is not None else None,
        "signup_open": settings.ACCOUNT_ALLOW_SIGNUPS,
        "can_review": access.can_review(user),
    }
