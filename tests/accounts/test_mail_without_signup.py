"""allauth's mail for a password reset asked for an unknown address offers a "sign up" link;
while sign-up is closed (accounts come from an admin) it must not, and says whom to ask."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _reset_mail_for_unknown_address(client) -> str:
    mail.outbox.clear()
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert response.status_code == 302, response.content
    (message,) = mail.outbox
    assert message.to == ["nobody@example.com"]
    return message.body


def test_closed_sign_up_mail_has_no_sign_up_link(client, settings):
    settings.ACCOUNT_ALLOW_SIGNUPS = False
    body = _reset_mail_for_unknown_address(client)
    assert "sign up" not in body.lower()
    assert reverse("account_signup") not in body
    assert "ask the studio's administrator for an account" in body


def test_open_sign_up_mail_keeps_the_link(client, settings):
    settings.ACCOUNT_ALLOW_SIGNUPS = True
    body = _reset_mail_for_unknown_address(client)
    assert "sign up for an account" in body
    assert reverse("account_signup") in body
