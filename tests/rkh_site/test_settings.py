"""Production settings: ``check --deploy`` is clean, a missing SECRET_KEY is refused,
and the local secret key file is private."""

from __future__ import annotations

import os
import secrets
import stat
import string
import subprocess
import sys
from pathlib import Path

from utilities.config import local_secret_key, new_fernet_key, new_hash_key

ROOT = Path(__file__).resolve().parents[2]
#: What a real deployment sets (rkh_site.checks refuses demo or empty PMR secrets, and missing
#: or published encryption keys).
REAL_PMR_SECRETS = {
    "FIELD_ENCRYPTION_KEYS": new_fernet_key(),
    "FIELD_HASH_KEY": new_hash_key(),
    **{
        name: secrets.token_urlsafe(32)
        for name in ("PMR_CLIENT_SECRET", "PMR_API_KEY", "PMR_WEBHOOK_SECRET")
    },
    "EMAIL_URL": "smtp+tls://studio:password@smtp.example.com:587",
}


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a clean environment, as a production process would start.

    Nothing from the test run leaks in (its DEBUG, DJANGO_ALLOW_ASYNC_UNSAFE...):
    only PATH, HOME and locale, plus ``env``.
    """
    keep = {"PATH", "HOME", "LANG", "LC_ALL"}
    env = {
        **{name: value for name, value in os.environ.items() if name in keep},
        "DJANGO_SETTINGS_MODULE": "rkh_site.settings",
        "RKH_VAR_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_has_no_warnings(tmp_path):
    alphabet = string.ascii_letters + string.digits + string.punctuation.replace("$", "")
    secret_key = "".join(secrets.choice(alphabet) for _ in range(64))
    result = _manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="photos.example.com",
        METRICS_TOKEN=secrets.token_urlsafe(32),
        **REAL_PMR_SECRETS,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNINGS" not in output
    # The secret key came from the environment: nothing was written locally.
    assert not (tmp_path / "secret_key").exists()
    assert not (tmp_path / "field_encryption_key").exists()
    assert not (tmp_path / "field_hash_key").exists()


def test_check_deploy_warns_of_production_without_a_metrics_token(tmp_path):
    production = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "photos.example.com",
        **REAL_PMR_SECRETS,
    }
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **production)
    assert result.returncode != 0
    assert "rkh_site.W001" in result.stderr
    assert "METRICS_TOKEN is not set" in result.stderr
    # Only a warning: the plain check (and so migrate and every command) passes.
    assert _manage(tmp_path, "check", **production).returncode == 0
    # A local run needs none.
    local = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", DEBUG="1")
    assert "rkh_site.W001" not in local.stdout + local.stderr


def test_production_settings_refuse_to_load_without_secret_key(tmp_path):
    result = _manage(tmp_path, "check", DEBUG="0")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_local_secret_key_is_created_private_and_kept(tmp_path):
    path = tmp_path / "secret_key"
    key = local_secret_key(path)
    assert len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Later runs read the same key back, so sessions survive restarts.
    assert local_secret_key(path) == key
    assert path.read_text() == key


def test_local_secret_key_replaces_an_empty_file(tmp_path):
    path = tmp_path / "secret_key"
    path.touch()
    key = local_secret_key(path)
    assert key
    assert path.read_text() == key
