"""The analytics tests' world (see world.py), and a PMR outbox that is absent unless asked for.

The PMR outbox model is being built by the PMR issue; whether it is installed
must not change what these tests expect, so by default analytics looks for a
model that does not exist. ``test_pmr.py`` opts in to a real table.
"""

from __future__ import annotations

import pytest

from analytics import selectors
from events.models import Event

from .world import World, build_world


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_pmr_outbox: analytics may find the PMR app's real outbox model"
    )


@pytest.fixture
def world(event: Event) -> World:
    return build_world(event)


@pytest.fixture(autouse=True)
def _no_pmr_outbox(request, monkeypatch) -> None:
    if "real_pmr_outbox" not in request.keywords:
        monkeypatch.setattr(selectors, "PMR_OUTBOX_MODEL", ("pmr", "NoSuchOutboxModel"))
