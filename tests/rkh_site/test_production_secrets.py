"""Production refuses published PMR secrets and a missing EMAIL_URL: the system check (what
``check --deploy`` and every management command report), the web process and the Celery
processes (which run no checks)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from utilities.config import new_fernet_key, new_hash_key

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "photos.example.com",
    "EMAIL_URL": "smtp+tls://studio:password@smtp.example.com:587",
}
SECRET_NAMES = ("PMR_CLIENT_SECRET", "PMR_API_KEY", "PMR_WEBHOOK_SECRET")


def _real_secrets() -> dict[str, str]:
    return {
        **{name: secrets.token_urlsafe(32) for name in SECRET_NAMES},
        "FIELD_ENCRYPTION_KEYS": new_fernet_key(),
        "FIELD_HASH_KEY": new_hash_key(),
    }


def _run(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Start a process as production would: only PATH/HOME/locale from the test run, plus env."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL"}
    env = {
        **{name: value for name, value in os.environ.items() if name in keep},
        "DJANGO_SETTINGS_MODULE": "rkh_site.settings",
        "RKH_VAR_DIR": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(50),
        **PRODUCTION,
        **env,
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_check_deploy_names_every_demo_secret(tmp_path):
    # Nothing set: the demo defaults of `make run`.
    result = _run(tmp_path, ["manage.py", "check", "--deploy"])
    assert result.returncode != 0
    assert "rkh_site.E001" in result.stderr
    for name in SECRET_NAMES:
        assert name in result.stderr


@pytest.mark.parametrize("name", SECRET_NAMES)
@pytest.mark.parametrize("value", ["", "   ", "demo-webhook-secret", "DEMO-SECRET"])
def test_one_empty_or_demo_secret_is_enough_to_refuse(tmp_path, name, value):
    result = _run(tmp_path, ["manage.py", "check"], **{**_real_secrets(), name: value})
    assert result.returncode != 0
    assert f"{name} is empty or a demo value" in result.stderr


def test_real_secrets_pass_and_debug_runs_keep_the_demo_defaults(tmp_path):
    assert _run(tmp_path, ["manage.py", "check"], **_real_secrets()).returncode == 0
    local = _run(tmp_path, ["manage.py", "check"], DEBUG="1")
    assert local.returncode == 0, local.stderr


def test_the_web_process_refuses_to_start(tmp_path):
    load = ["-c", "import rkh_site.asgi; print('serving')"]
    refused = _run(tmp_path, load, PMR_WEBHOOK_SECRET="")
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr
    assert "PMR_WEBHOOK_SECRET" in refused.stderr
    assert "serving" not in refused.stdout
    started = _run(tmp_path, load, **_real_secrets())
    assert started.returncode == 0, started.stderr
    assert "serving" in started.stdout


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_celery_processes_refuse_to_start(tmp_path, command):
    # The refusal comes before the broker is asked for: an unreachable one proves it.
    args = ["-m", "celery", "-A", "rkh_site", command, "--loglevel", "WARNING"]
    if command == "beat":
        args += ["--schedule", str(tmp_path / "beat-schedule")]
    result = _run(tmp_path, args, REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode != 0
    assert "Refusing to start" in result.stderr + result.stdout
    assert "PMR_CLIENT_SECRET" in result.stderr + result.stdout


def test_production_without_email_url_refuses_to_start(tmp_path):
    unset = {**_real_secrets(), "EMAIL_URL": ""}
    checked = _run(tmp_path, ["manage.py", "check"], **unset)
    assert checked.returncode != 0
    assert "rkh_site.E002" in checked.stderr
    assert "EMAIL_URL is not set" in checked.stderr
    web = _run(tmp_path, ["-c", "import rkh_site.asgi"], **unset)
    assert web.returncode != 0
    assert "EMAIL_URL is not set" in web.stderr
    # Saying "no mail" is a choice, and allowed.
    none = _run(tmp_path, ["manage.py", "check"], **_real_secrets(), EMAIL_URL="dummymail://")
    assert none.returncode == 0, none.stderr


# --- encryption at rest -------------------------------------------------------------------


def test_missing_encryption_keys_are_named_and_refused(tmp_path):
    keyless = {**_real_secrets(), "FIELD_ENCRYPTION_KEYS": "", "FIELD_HASH_KEY": ""}
    checked = _run(tmp_path, ["manage.py", "check", "--deploy"], **keyless)
    assert checked.returncode != 0
    assert "rkh_site.E003" in checked.stderr
    assert "FIELD_ENCRYPTION_KEYS is empty" in checked.stderr
    assert "FIELD_HASH_KEY is empty" in checked.stderr
    web = _run(tmp_path, ["-c", "import rkh_site.asgi; print('serving')"], **keyless)
    assert web.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is empty" in web.stderr
    assert "serving" not in web.stdout
    # Nothing was generated for production: keys are the operator's to make and keep.
    assert not (tmp_path / "field_encryption_key").exists()


def test_the_test_suites_published_keys_are_refused_in_production(tmp_path, settings):
    """tests/settings.py's keys are in the repository: production must not encrypt with them
    (an old published key may stay behind the new one, only to be read while reencrypting)."""
    published = {
        **_real_secrets(),
        "FIELD_ENCRYPTION_KEYS": settings.FIELD_ENCRYPTION_KEYS[0],
        "FIELD_HASH_KEY": settings.FIELD_HASH_KEY,
    }
    checked = _run(tmp_path, ["manage.py", "check"], **published)
    assert checked.returncode != 0
    assert "first key of FIELD_ENCRYPTION_KEYS is a published one" in checked.stderr
    assert "FIELD_HASH_KEY is a published value" in checked.stderr
    behind = {
        **_real_secrets(),
        "FIELD_ENCRYPTION_KEYS": f"{new_fernet_key()},{settings.FIELD_ENCRYPTION_KEYS[0]}",
    }
    assert _run(tmp_path, ["manage.py", "check"], **behind).returncode == 0


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"FIELD_HASH_KEY": "too-short-a-key"}, "shorter than 32 characters"),
        ({"FIELD_HASH_KEY": "change-me"}, "FIELD_HASH_KEY is a published value"),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-fernet-key"}, "key number 1 is not a Fernet key"),
        ({"FIELD_ENCRYPTION_KEYS": f"{new_fernet_key()},abc"}, "key number 2 is not a Fernet"),
    ],
)
def test_weak_or_malformed_keys_are_refused(tmp_path, env, said):
    result = _run(tmp_path, ["manage.py", "check"], **{**_real_secrets(), **env})
    assert result.returncode != 0
    assert said in result.stderr


def test_the_hash_key_must_be_a_key_of_its_own(tmp_path):
    same = _real_secrets()
    same["FIELD_HASH_KEY"] = same["FIELD_ENCRYPTION_KEYS"]
    result = _run(tmp_path, ["manage.py", "check"], **same)
    assert result.returncode != 0
    assert "FIELD_HASH_KEY repeats another key" in result.stderr


def test_a_local_run_makes_its_keys_once_and_keeps_them(tmp_path):
    show = [
        "-c",
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.FIELD_ENCRYPTION_KEYS[0], settings.FIELD_HASH_KEY)",
    ]
    first = _run(tmp_path, show, DEBUG="1")
    assert first.returncode == 0, first.stderr
    again = _run(tmp_path, show, DEBUG="1")
    assert first.stdout == again.stdout
    fernet_key, hash_key = first.stdout.split()
    assert (tmp_path / "field_encryption_key").read_text() == fernet_key
    assert (tmp_path / "field_hash_key").read_text() == hash_key
    for name in ("field_encryption_key", "field_hash_key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
