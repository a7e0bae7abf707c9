"""The login page invites to sign up only while sign-up is open."""

import pytest


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
