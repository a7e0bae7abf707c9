"""The analytics tests' world (see world.py)."""

from __future__ import annotations

import pytest

from events.models import Event

from .world import World, build_world


@pytest.fixture
def world(event: Event) -> World:
    return build_world(event)
