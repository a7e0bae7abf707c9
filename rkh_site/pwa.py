"""The service worker, served from the site's root so that its scope is the whole site.

A service worker only controls pages under the folder it is served from, so it
cannot live under ``/static/``. The worker itself is a small template that
pulls in the parts that do the work (``static/js/sw/``): the offline page and
the upload queue (``offline.js``) and Web Push (``push.js``). It is never
cached by the browser's HTTP cache, so a new deployment reaches every tab.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def service_worker(request: HttpRequest) -> HttpResponse:
    body = render_to_string("pwa/sw.js", request=request)
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response
