"""allauth adapters: accounts are made by admins, so self sign-up is closed.

Single sign-on (Microsoft, Google) signs in users whose e-mail already belongs
to an account; it does not create new accounts unless sign-up is switched on.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site

from .signin_limits import attempt_key


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return settings.ACCOUNT_ALLOW_SIGNUPS

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        """One failed-sign-in counter per account, whether the username or the e-mail was
        typed (``accounts.signin_limits``). allauth keys its "login_failed" limit with this
        method (its only such hook); tests/accounts/test_signin_limits.py holds it to that."""
        typed = credentials.get("email", credentials.get("username", ""))
        return f"{get_current_site(request).domain}:{attempt_key(typed)}"

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Mails know whether sign-up is open (``signup_open``), as pages do.

        allauth renders mails without the request's context processors; its mail for a
        password reset asked for an unknown address offers a "sign up" link, which must not
        appear while accounts come from an admin (templates/account/email/).
        """
        super().send_mail(
            template_prefix, email, {"signup_open": settings.ACCOUNT_ALLOW_SIGNUPS, **context}
        )


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return settings.ACCOUNT_ALLOW_SIGNUPS
