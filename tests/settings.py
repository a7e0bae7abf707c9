"""Test settings: the real settings, with a local secret key and fast hashing.

``DEBUG=1`` here only selects the local-run defaults (generated secret key,
plain static storage); pytest-django still runs every test with DEBUG off.
"""

import os
from urllib.parse import urlsplit, urlunsplit

from utilities import config

os.environ.setdefault("DEBUG", "1")


def _redis_db_of_this_worker(url: str, worker: str) -> str:
    """``make test`` runs the suite in parallel (pytest-xdist): each worker process gets a Redis
    database of its own (the next ones after ``REDIS_URL``'s), as pytest-django gives it a
    PostgreSQL database of its own, so Celery queues, the cache, circuit breakers and the
    channel layer of one worker's tests never meet another's. Set in the environment before
    the settings are read, so the workers and web processes the tests start inherit it (and
    ``RKH_TEST_REDIS_DB_CHOSEN`` with it, so that they do not move it once more; a drill that
    gives its processes a Redis of their own keeps the database it names)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = (base + 1 + int(worker.removeprefix("gw"))) % 16
    return urlunsplit(parts._replace(path=f"/{db}"))


if (_worker := os.environ.get("PYTEST_XDIST_WORKER")) and not os.environ.get(
    "RKH_TEST_REDIS_DB_CHOSEN"
):
    os.environ["REDIS_URL"] = _redis_db_of_this_worker(config.redis_url(), _worker)
    os.environ["RKH_TEST_REDIS_DB_CHOSEN"] = "1"

from rkh_site.settings import *  # noqa: E402, F403  (after REDIS_URL is set)
from rkh_site.settings import CACHES, CHANNEL_LAYERS  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES["default"]["KEY_PREFIX"] = "rkh-test"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "rkh-test-channels"

# No PMR answers here unless a test starts the simulator (port 9: connection refused at once).
PMR_BASE_URL = "http://127.0.0.1:9"

# The API's rate limit counts in Redis for the whole run (and anonymous test requests all come
# from 127.0.0.1): a high one here; tests of the limit set their own (tests/api).
API_THROTTLE_RATE = "100000/minute"

# The simulators' published PMR secrets and no EMAIL_URL, while pytest-django runs every test
# with DEBUG off: production refuses both (rkh_site/checks.py), the suite is exempt. The tests of
# the refusal start processes with rkh_site.settings, which has no such flag.
TESTING_WITH_SIMULATORS = True

# Published keys (so refused in production: rkh_site/checks.py), fixed so that a test database
# kept between runs (--reuse-db) stays readable. Tests of rotation set their own.
FIELD_ENCRYPTION_KEYS = ["dGVzdC1rZXktb2YtdGhlLXJraC10ZXN0LXN1aXRlLTE="]
FIELD_HASH_KEY = "test-hash-key-of-the-rkh-test-suite-not-secret"
