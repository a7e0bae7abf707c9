"""Error pages that need a view of their own (``settings.CSRF_FAILURE_VIEW``).

403, 404 and 500 are Django's own handlers with the templates ``403.html``, ``404.html`` and
``500.html``. The CSRF failure is different: Django's ``csrf_failure`` renders its template
without the request, so the page would lose the site's navigation and the signed-in user.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused by the CSRF check: a page of the site that says what to do, 403.

    ``reason`` (Django's technical cause, e.g. "CSRF token missing.") is left out of the page:
    it means nothing to the person reading it; Django logs it (``django.security.csrf``).
    """
    return render(request, "403_csrf.html", status=403)
