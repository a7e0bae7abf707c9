"""Settings of a worker a PMR test starts: the test settings, but the PMR is where the test's
simulator listens (``tests.settings`` pins PMR_BASE_URL to a dead port)."""

import os

from tests.settings import *  # noqa: F403

PMR_BASE_URL = os.environ["PMR_BASE_URL"]
