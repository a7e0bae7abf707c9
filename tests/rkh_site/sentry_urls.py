"""URLs of the Sentry test (tests/rkh_site/test_sentry.py): an order page that fails."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def failing_order_page(request: HttpRequest, order_ref: str) -> HttpResponse:
    raise RuntimeError(f"sentry-test failure on {order_ref}")


urlpatterns = [path("orders/<str:order_ref>/fail/", failing_order_page)]
