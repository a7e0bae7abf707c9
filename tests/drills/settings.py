"""Settings of the processes a drill starts: the test settings, with the PMR where the drill's
simulator listens (``tests.settings`` points the PMR at a dead port), and the drills' app."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

PMR_BASE_URL = os.environ["PMR_BASE_URL"]
# The processes outlive the flush between two drills: they forget cached content types.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.drills.apps.DrillsConfig"]
