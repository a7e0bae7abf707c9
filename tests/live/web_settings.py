"""Settings of the web processes the live tests start: the test settings, heartbeat off.

With the heartbeat's periodic re-read out of the way (an hour), only doorbells
crossing processes through Redis can deliver an entry in time, so a test of
cross-process delivery fails when they do not.
"""

from tests.settings import *  # noqa: F403

LIVE_HEARTBEAT_S = 3600
