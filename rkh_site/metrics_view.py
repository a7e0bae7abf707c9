"""``GET /metrics``: the Prometheus scrape, closed to the public.

Metrics say how busy the studio is, which outside service is down and how far the PMR lags:
nothing for the internet to read. Who may read them:

- Prometheus, sending ``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time);
- staff signed in (a person looking at the numbers in a browser).

Anyone else: with a token configured, ``401`` without credentials (with a Bearer challenge,
so a misconfigured scraper says why) and ``403`` for a wrong token or a signed-in person who
is not staff; with no token configured, ``404``, as if the page did not exist (there is then
nothing to authenticate with, and nothing to learn from the answer). ``check --deploy`` warns
when production runs without a token (``rkh_site.W001``).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest


def _token_matches(request: HttpRequest, token: str) -> bool:
    sent = request.headers.get("Authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


def _refusal(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The text exposition of every registered collector (django-prometheus', the product's)."""
    token = settings.METRICS_TOKEN
    user = getattr(request, "user", None)
    staff = bool(user is not None and user.is_active and user.is_staff)
    if not staff and not (token and _token_matches(request, token)):
        if not token:
            raise Http404
        signed_in = bool(user is not None and user.is_authenticated)
        if "Authorization" in request.headers or signed_in:
            return _refusal("forbidden", "These credentials may not read the metrics.", 403)
        response = _refusal(
            "not_authenticated",
            "Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.",
            401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
