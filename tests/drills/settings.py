"""Settings of the processes a drill starts: the test settings, with the PMR where the drill's
simulator listens (``tests.settings`` points the PMR at a dead port)."""

import os

from tests.settings import *  # noqa: F403

PMR_BASE_URL = os.environ["PMR_BASE_URL"]
