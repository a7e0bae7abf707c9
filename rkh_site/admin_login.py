"""The back office's sign-in page, for people who are signed in already but may not use it.

Django's admin sends anyone without staff access to its own sign-in form, which tells a User or
a Viewer "You are authenticated as …, but are not authorized to access this page" and offers
to sign in as someone else. They are signed in, and the back office is simply not theirs: they
get the product's 403 page instead, which names their role and a way back. Someone signed out
gets the admin's sign-in form as before.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

REFUSED = "The back office is for managers and administrators."


def login(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and not admin.site.has_permission(request):
        raise PermissionDenied(REFUSED)
    return admin.site.login(request)
