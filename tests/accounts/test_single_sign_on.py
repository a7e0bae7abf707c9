"""Microsoft and Google sign-in are off by default and switched on by configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps({'apps': [a for a in settings.INSTALLED_APPS if '.providers.' in a], "
    "'providers': settings.SOCIALACCOUNT_PROVIDERS}))"
)


def _settings_with(env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MICROSOFT_", "GOOGLE_"))}
    env |= {"DJANGO_SETTINGS_MODULE": "rkh_site.settings", "DEBUG": "1", **env_extra}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_single_sign_on_by_default():
    assert _settings_with({}) == {"apps": [], "providers": {}}


def test_microsoft_switched_on_by_its_client_id():
    found = _settings_with(
        {
            "MICROSOFT_CLIENT_ID": "client-123",
            "MICROSOFT_CLIENT_SECRET": "secret-456",
            "MICROSOFT_TENANT": "contoso.onmicrosoft.com",
        }
    )
    assert found["apps"] == ["allauth.socialaccount.providers.microsoft"]
    app = found["providers"]["microsoft"]["APPS"][0]
    assert app["client_id"] == "client-123"
    assert app["settings"]["tenant"] == "contoso.onmicrosoft.com"


def test_google_switched_on_by_its_client_id_and_limited_to_the_workspace():
    found = _settings_with(
        {
            "GOOGLE_CLIENT_ID": "g-1",
            "GOOGLE_CLIENT_SECRET": "g-2",
            "GOOGLE_WORKSPACE_DOMAIN": "studio.example",
        }
    )
    assert found["apps"] == ["allauth.socialaccount.providers.google"]
    assert found["providers"]["google"]["AUTH_PARAMS"] == {"hd": "studio.example"}


LOGIN_PAGE_PROBE = (
    "import django; django.setup(); from django.test import Client; "
    "print(Client().get('/accounts/login/').content.decode())"
)


def _login_page_with(env_extra: dict[str, str]) -> str:
    """Render the login page in a process whose settings saw ``env_extra``.

    Providers are fixed when settings and URLs load, so this needs a process of
    its own; it uses the test database (only its tables are read).
    """
    from django.db import connection

    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MICROSOFT_", "GOOGLE_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": (
            f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}"
            f"@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "ALLOWED_HOSTS": "testserver",
        **env_extra,
    }
    result = subprocess.run(
        [sys.executable, "-c", LOGIN_PAGE_PROBE], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.django_db
def test_login_page_offers_microsoft_and_google_only_when_configured():
    plain = _login_page_with({})
    assert "/accounts/microsoft/login/" not in plain
    assert "/accounts/google/login/" not in plain
    configured = _login_page_with(
        {
            "MICROSOFT_CLIENT_ID": "c",
            "MICROSOFT_CLIENT_SECRET": "s",
            "GOOGLE_CLIENT_ID": "g",
            "GOOGLE_CLIENT_SECRET": "h",
        }
    )
    assert "/accounts/microsoft/login/" in configured
    assert "/accounts/google/login/" in configured
