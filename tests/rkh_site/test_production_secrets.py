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

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "photos.example.com",
    "EMAIL_URL": "smtp+tls://studio:password@smtp.example.com:587",
}
SECRET_NAMES = ("PMR_CLIENT_SECRET", "PMR_API_KEY", "PMR_WEBHOOK_SECRET")


def _real_secrets() -> dict[str, str]:
    return {name: secrets.token_urlsafe(32) for name in SECRET_NAMES}


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
