"""Test settings: the real settings, with a local secret key and fast hashing.

``DEBUG=1`` here only selects the local-run defaults (generated secret key,
plain static storage); pytest-django still runs every test with DEBUG off.
"""

import os

os.environ.setdefault("DEBUG", "1")

from rkh_site.settings import *  # noqa: F403
from rkh_site.settings import CACHES, CHANNEL_LAYERS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES["default"]["KEY_PREFIX"] = "rkh-test"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "rkh-test-channels"

# No PMR answers here unless a test starts the simulator (port 9: connection refused at once).
PMR_BASE_URL = "http://127.0.0.1:9"

# The API's rate limit counts in Redis for the whole run (and anonymous test requests all come
# from 127.0.0.1): a high one here; tests of the limit set their own (tests/api).
API_THROTTLE_RATE = "100000/minute"
