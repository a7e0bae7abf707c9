"""Production refuses to start with the PMR's secrets empty or demo values, or without mail.

The demo values (``demo-secret``, ``demo-api-key``, ``demo-webhook-secret``) are what the
PMR simulator of ``make run`` accepts; in production they, or an empty value, would let
anyone who reads this repository call the PMR as the studio or sign a webhook that marks
orders rejected (an empty webhook secret is an HMAC key anyone can use). Without
``EMAIL_URL`` mail would be written to files under ``var/`` that nobody reads: sign-in
links, notices and customers' mails lost without a word (``dummymail://`` is the explicit
way to send none). The rules are checked in two places, so that no process of a
production deployment runs without them:

- Django system checks (``rkh_site.E001`` secrets, ``rkh_site.E002`` mail), which
  ``check --deploy``, ``migrate`` and every management command report;
- ``refuse_unsafe_start()``, called by the ASGI application and by every Celery process at
  start, because neither runs the system checks.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

#: Settings that must hold a real secret when ``DEBUG`` is off.
SECRET_SETTINGS = ("PMR_CLIENT_SECRET", "PMR_API_KEY", "PMR_WEBHOOK_SECRET")
#: Values that are published (the simulator's and the examples'), so no secret at all.
DEMO_VALUES = frozenset(
    {
        "demo-secret",
        "demo-api-key",
        "demo-webhook-secret",
        "change-me",
        "changeme",
        "secret",
    }
)


def _exempt(config: Any) -> bool:
    """A local run (``DEBUG``), or the test suite's settings (``tests/settings.py``: the
    simulators' published secrets, while pytest-django runs every test with DEBUG off)."""
    return bool(
        getattr(config, "DEBUG", False) or getattr(config, "TESTING_WITH_SIMULATORS", False)
    )


def unsafe_secrets(config: Any = settings) -> list[str]:
    """Names of the secret settings that are empty or a demo value (none while DEBUG is on)."""
    if _exempt(config):
        return []
    unsafe = []
    for name in SECRET_SETTINGS:
        value = str(getattr(config, name, "") or "").strip()
        if not value or value.lower() in DEMO_VALUES:
            unsafe.append(name)
    return unsafe


MAIL_MESSAGE = (
    "EMAIL_URL is not set: with DEBUG off, mail would go to files nobody reads. Set it "
    "(e.g. smtp+tls://user:password@smtp.example.com:587), or dummymail:// to send none "
    "(docs/configuration.md)."
)


def mail_unset(config: Any = settings) -> bool:
    """True when production would write its mail to local files (no ``EMAIL_URL``)."""
    return not _exempt(config) and not getattr(config, "EMAIL_URL_SET", True)


def _message(names: list[str]) -> str:
    return (
        f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} empty or a demo value; "
        "with DEBUG off each must be the real secret from the PMR (docs/configuration.md, PMR)."
    )


@checks.register(checks.Tags.security, deploy=False)
def check_production_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """System checks ``rkh_site.E001`` and ``E002``: see the module docstring."""
    problems = []
    names = unsafe_secrets()
    if names:
        problems.append(
            checks.Error(
                _message(names),
                hint="Set them in the environment (.env for docker compose).",
                id="rkh_site.E001",
            )
        )
    if mail_unset():
        problems.append(checks.Error(MAIL_MESSAGE, id="rkh_site.E002"))
    return problems


def refuse_unsafe_start() -> None:
    """Stop a production process (web or worker) with published secrets or without mail."""
    names = unsafe_secrets()
    if names:
        raise ImproperlyConfigured(_message(names))
    if mail_unset():
        raise ImproperlyConfigured(MAIL_MESSAGE)


METRICS_MESSAGE = (
    "METRICS_TOKEN is not set: with DEBUG off, /metrics answers only staff signed in, so "
    "Prometheus cannot scrape it."
)


@checks.register(checks.Tags.security, deploy=True)
def check_metrics_token(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``rkh_site.W001`` (``check --deploy``): production without a metrics token. A warning,
    not a refusal: the product runs without being watched, but someone should decide that."""
    if getattr(settings, "DEBUG", False) or getattr(settings, "METRICS_TOKEN", ""):
        return []
    return [
        checks.Warning(
            METRICS_MESSAGE,
            hint="Set METRICS_TOKEN (a long random string) for the scraper "
            "(docs/deployment.md, 'Watching it run').",
            id="rkh_site.W001",
        )
    ]
