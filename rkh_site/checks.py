"""Production refuses to start with the PMR's secrets empty or demo values, without mail, or
without the keys of the encrypted personal data.

The demo values (``demo-secret``, ``demo-api-key``, ``demo-webhook-secret``) are what the
PMR simulator of ``make run`` accepts; in production they, or an empty value, would let
anyone who reads this repository call the PMR as the studio or sign a webhook that marks
orders rejected (an empty webhook secret is an HMAC key anyone can use). Without
``EMAIL_URL`` mail would be written to files under ``var/`` that nobody reads: sign-in
links, notices and customers' mails lost without a word (``dummymail://`` is the explicit
way to send none). Without ``FIELD_ENCRYPTION_KEYS`` nothing encrypted can be read or
written, and a key published here (the test suite's) protects nothing; the same for the
e-mail lookup key ``FIELD_HASH_KEY``, which must also be long enough that nobody can guess
it and hash a list of known addresses. The rules are checked in two places, so that no
process of a production deployment runs without them:

- Django system checks (``rkh_site.E001`` secrets, ``rkh_site.E002`` mail, ``rkh_site.E003``
  encryption keys), which
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


#: Keys published in this repository (tests/settings.py, the docs' examples): no secret.
#: Only the first of FIELD_ENCRYPTION_KEYS is held to it: older keys only decrypt, and a
#: published one may stay there while ``manage.py reencrypt`` moves the data off it.
PUBLISHED_FIELD_KEYS = frozenset(
    {
        "dGVzdC1rZXktb2YtdGhlLXJraC10ZXN0LXN1aXRlLTE=",
        "test-hash-key-of-the-rkh-test-suite-not-secret",
    }
)
#: The shortest FIELD_HASH_KEY taken: a short key could be guessed, and with it the hash of
#: every known address compared with the stored ones.
MIN_HASH_KEY_LENGTH = 32


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


def unsafe_field_keys(config: Any = settings) -> list[str]:
    """Sentences for each encryption-at-rest key that is missing, published or too short."""
    if _exempt(config):
        return []
    problems = []
    keys = [str(k).strip() for k in getattr(config, "FIELD_ENCRYPTION_KEYS", []) or []]
    keys = [k for k in keys if k]
    if not keys:
        problems.append("FIELD_ENCRYPTION_KEYS is empty")
    elif keys[0] in PUBLISHED_FIELD_KEYS:
        problems.append("the first key of FIELD_ENCRYPTION_KEYS is a published one")
    hash_key = str(getattr(config, "FIELD_HASH_KEY", "") or "").strip()
    if not hash_key:
        problems.append("FIELD_HASH_KEY is empty")
    elif (
        hash_key in PUBLISHED_FIELD_KEYS
        or hash_key.lower() in DEMO_VALUES
        or len(hash_key) < MIN_HASH_KEY_LENGTH
    ):
        problems.append(
            f"FIELD_HASH_KEY is a published value or shorter than {MIN_HASH_KEY_LENGTH} characters"
        )
    elif hash_key in keys or hash_key == str(getattr(config, "SECRET_KEY", "")):
        problems.append("FIELD_HASH_KEY repeats another key; it must be a key of its own")
    return problems


def _field_keys_message(problems: list[str]) -> str:
    return (
        f"{'; '.join(problems)}: with DEBUG off the personal data needs keys of its own "
        "(docs/configuration.md, Encryption at rest; docs/deployment.md for making them)."
    )


def _message(names: list[str]) -> str:
    return (
        f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} empty or a demo value; "
        "with DEBUG off each must be the real secret from the PMR (docs/configuration.md, PMR)."
    )


@checks.register(checks.Tags.security, deploy=False)
def check_production_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """System checks ``rkh_site.E001``, ``E002`` and ``E003``: see the module docstring."""
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
    if field_keys := unsafe_field_keys():
        problems.append(
            checks.Error(
                _field_keys_message(field_keys),
                hint="Set them in the environment (.env for docker compose).",
                id="rkh_site.E003",
            )
        )
    return problems


def refuse_unsafe_start() -> None:
    """Stop a production process (web or worker) with published secrets or keys, or without
    mail."""
    names = unsafe_secrets()
    if names:
        raise ImproperlyConfigured(_message(names))
    if mail_unset():
        raise ImproperlyConfigured(MAIL_MESSAGE)
    if field_keys := unsafe_field_keys():
        raise ImproperlyConfigured(_field_keys_message(field_keys))


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
