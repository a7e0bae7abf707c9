"""VAPID keys: generated once into var/ (0600) for a local run, taken from the environment
otherwise, never defaulted with DEBUG off (push is then off), and a mismatched pair refused."""

from __future__ import annotations

import stat
import subprocess

from tests.rkh_site.test_settings import _manage
from utilities.config import local_vapid_keys, vapid_public_key

SHOW = (
    "from django.conf import settings as s; print(repr((s.VAPID_PUBLIC_KEY, s.VAPID_PRIVATE_KEY)))"
)


def _settings(tmp_path, **env) -> subprocess.CompletedProcess:
    result = _manage(tmp_path, "shell", "-c", SHOW, **env)
    return result


def test_local_key_pair_is_made_once_and_private(tmp_path):
    path = tmp_path / "vapid_private_key"
    public, private = local_vapid_keys(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_vapid_keys(path) == (public, private)
    assert vapid_public_key(private) == public
    assert len(public) == 87  # 65 bytes, base64url without padding


def test_debug_run_generates_them_into_var(tmp_path):
    result = _settings(tmp_path, DEBUG="1")
    assert result.returncode == 0, result.stderr
    public, private = eval(result.stdout.strip().splitlines()[-1])
    assert (tmp_path / "vapid_private_key").read_text() == private
    assert vapid_public_key(private) == public


def test_production_without_keys_has_push_off_and_with_keys_uses_them(tmp_path):
    base = {"DEBUG": "0", "SECRET_KEY": "x" * 60}
    off = _settings(tmp_path, **base)
    assert off.returncode == 0, off.stderr
    assert eval(off.stdout.strip().splitlines()[-1]) == ("", "")
    assert not (tmp_path / "vapid_private_key").exists()

    public, private = local_vapid_keys(tmp_path / "elsewhere")
    on = _settings(tmp_path, **base, VAPID_PRIVATE_KEY=private)
    assert eval(on.stdout.strip().splitlines()[-1]) == (public, private)

    other_public, _ = local_vapid_keys(tmp_path / "other")
    bad = _settings(tmp_path, **base, VAPID_PRIVATE_KEY=private, VAPID_PUBLIC_KEY=other_public)
    assert bad.returncode != 0
    assert "VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY" in bad.stderr
