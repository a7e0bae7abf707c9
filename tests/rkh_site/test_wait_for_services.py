"""``manage.py wait_for_services`` returns once the database and Redis answer."""

from __future__ import annotations

import time

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_returns_when_services_are_up():
    started = time.monotonic()
    call_command("wait_for_services", timeout=2)
    assert time.monotonic() - started < 2


def test_gives_up_naming_redis_when_redis_is_down(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"waiting for: redis$") as excinfo:
        call_command("wait_for_services", timeout=2)
    elapsed = time.monotonic() - started
    assert "database" not in str(excinfo.value)
    assert 1.5 < elapsed < 3.5, f"gave up after {elapsed:.1f}s"
