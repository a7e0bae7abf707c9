"""allauth adapters: accounts are made by admins, so self sign-up is closed.

Single sign-on (Microsoft, Google) signs in users whose e-mail already belongs
to an account; it does not create new accounts unless sign-up is switched on.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return settings.ACCOUNT_ALLOW_SIGNUPS


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return settings.ACCOUNT_ALLOW_SIGNUPS
