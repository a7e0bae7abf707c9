"""The login page invites to sign up only while sign-up is open; a sign-in lasts a working day."""

import pytest
from django.conf import settings
from django.urls import reverse


@pytest.mark.django_db
def test_login_page_does_not_offer_sign_up_when_closed(client):
    page = client.get("/accounts/login/").content.decode()
    assert "/accounts/signup/" not in page
    assert "created by your studio" in page
    assert "Sign Up Closed" in client.get("/accounts/signup/").content.decode()


@pytest.mark.django_db
def test_login_page_offers_sign_up_when_open(client, settings):
    settings.ACCOUNT_ALLOW_SIGNUPS = True
    page = client.get("/accounts/login/").content.decode()
    assert "/accounts/signup/" in page
    assert "created by your studio" not in page


def _sign_in(client, user, **extra):
    return client.post(
        reverse("account_login"), {"login": user.username, "password": "pw", **extra}
    )


@pytest.mark.django_db
def test_a_remembered_sign_in_lasts_a_working_day_not_two_weeks(client, users):
    response = _sign_in(client, users["User"], remember="on")
    assert response.status_code == 302, response.content
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == 24 * 3600
    assert client.session.get_expiry_age() == 24 * 3600


@pytest.mark.django_db
def test_a_sign_in_not_remembered_ends_with_the_browser(client, users):
    response = _sign_in(client, users["User"])
    assert response.status_code == 302, response.content
    assert client.session.get_expire_at_browser_close()
