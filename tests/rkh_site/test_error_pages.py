"""403, 404, CSRF failure and 500 are pages of the site: navigation, what happened, a way on.

The 500 page is rendered by Django without a request or context processors; it must show
even when what failed is the database or a context processor, so it needs neither.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import include, path
from django.views import defaults

pytestmark = pytest.mark.django_db


def _boom(request):
    raise OperationalError("connection to server at 127.0.0.1 failed: the database is down")


def _fine(request):
    return HttpResponse("fine")


urlpatterns = [
    path("boom/", _boom),
    path("fine/", _fine),
    path("", include("rkh_site.urls")),
]


def assert_site_page(html: str, *, signed_in: bool) -> None:
    assert 'class="topbar"' in html
    assert "RKH Photo Orders" in html
    if signed_in:
        assert 'aria-label="Main"' in html  # the navigation
        assert 'href="/">Go to the dashboard</a>' in html
        assert 'href="/orders/">All orders</a>' in html
        assert "Sign out" in html
    else:
        assert "Sign out" not in html
        assert 'href="/accounts/login/?next=' in html  # a way on: sign in
    assert "Traceback" not in html


@pytest.mark.parametrize("role", ["User", "Viewer", "anonymous"])
def test_404_is_a_page_of_the_site(client, users, role):
    if role != "anonymous":
        client.force_login(users[role])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert '<h1 id="error-h">Page not found</h1>' in html
    assert_site_page(html, signed_in=role != "anonymous")


def test_404_of_an_order_someone_may_not_see_explains_why(client, users, make_order):
    theirs = make_order(users["other"])
    client.force_login(users["User"])
    response = client.get(f"/orders/{theirs.order_ref}/")
    assert response.status_code == 404
    assert "not be one of yours" in response.content.decode()


def test_403_says_what_was_refused_and_what_to_do(client, users):
    client.force_login(users["Viewer"])
    response = client.get("/orders/new/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You cannot do this" in html
    assert "You may not create orders." in html  # the refusal's own sentence
    assert "Your role (Viewer) does not allow it" in html
    assert_site_page(html, signed_in=True)


def test_403_for_someone_signed_out(rf: RequestFactory):
    request = rf.get("/somewhere/")
    request.user = AnonymousUser()
    response = defaults.permission_denied(request, PermissionDenied())
    html = response.content.decode()
    assert response.status_code == 403
    assert "Sign in first" in html
    assert_site_page(html, signed_in=False)


@pytest.mark.parametrize("role", ["Manager", "anonymous"])
def test_a_refused_form_gets_a_page_of_the_site(users, role):
    client = Client(enforce_csrf_checks=True)
    if role == "anonymous":
        response = client.post("/accounts/login/", {"login": "x", "password": "y"})
    else:
        client.force_login(users[role])
        response = client.post("/orders/new/", {"customer_name": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "The form has expired" in html
    assert "Nothing was saved" in html
    assert "CSRF" not in html  # Django's word for it means nothing to the reader
    assert_site_page(html, signed_in=role != "anonymous")


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("role", ["User", "anonymous"])
def test_500_is_a_page_with_a_way_back(users, role):
    client = Client(raise_request_exception=False)
    if role != "anonymous":
        client.force_login(users[role])
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert 'href="/">Go to the dashboard</a>' in html
    assert 'href="/orders/">Orders</a>' in html  # the navigation
    assert "database is down" not in html  # no internals


@pytest.mark.urls(__name__)
def test_500_renders_without_the_database_and_the_context_processors(
    settings, django_assert_num_queries, rf
):
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {
                **settings.TEMPLATES[0]["OPTIONS"],
                "context_processors": [
                    *settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
                    "tests.rkh_site.test_error_pages.broken_processor",
                ],
            },
        }
    ]
    # The processor is broken: a page rendered with it fails.
    with pytest.raises(RuntimeError):
        Client().get("/no-such-page/")
    with django_assert_num_queries(0):
        response = defaults.server_error(rf.get("/anything/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def broken_processor(request):
    raise RuntimeError("a context processor that fails")
