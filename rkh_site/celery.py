"""The Celery app: settings come from Django's settings under the ``CELERY_`` prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rkh_site.settings")

app = Celery("rkh_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
