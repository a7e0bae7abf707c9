"""Settings of a worker a notification test starts: the test settings, with the test's PMR
simulator, e-mail into the test's folder (file backend) and the push service simulator's
loopback host allowed."""

import os

from tests.settings import *  # noqa: F403

PMR_BASE_URL = os.environ.get("PMR_BASE_URL", "http://127.0.0.1:9")
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["TEST_EMAIL_DIR"]
WEBPUSH_ALLOWED_HOSTS = ["127.0.0.1"]
