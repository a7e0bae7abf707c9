"""The Celery app: settings come from Django's settings under the ``CELERY_`` prefix."""

import os

from celery import Celery

from . import kombu_fixes

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rkh_site.settings")
# Workers survive a Redis restart (kombu's restore of unacknowledged messages on a detached
# connection raised AttributeError and ended the worker): see rkh_site/kombu_fixes.py.
kombu_fixes.apply()

app = Celery("rkh_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
