"""The Celery app: settings come from Django's settings under the ``CELERY_`` prefix."""

import os

from celery import Celery, signals
from django.core.exceptions import ImproperlyConfigured

from . import kombu_fixes
from .checks import refuse_unsafe_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rkh_site.settings")
# Workers survive a Redis restart (kombu's restore of unacknowledged messages on a detached
# connection raised AttributeError and ended the worker): see rkh_site/kombu_fixes.py.
kombu_fixes.apply()

app = Celery("rkh_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_unsafe_start(**kwargs) -> None:
    """A production worker or beat with published PMR secrets stops before taking work.

    Celery runs no Django system checks, and it logs (and ignores) an ``Exception`` raised by a
    signal receiver, so the refusal leaves as ``SystemExit``, which it does not catch.
    """
    try:
        refuse_unsafe_start()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"Refusing to start: {exc}") from exc
