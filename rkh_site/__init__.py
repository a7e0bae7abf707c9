"""Project package: settings, URLs, ASGI routing and the Celery app.

The Celery app is loaded when Django starts (``rkh_site.apps``), not on import of this
package: start-up scripts that live here (``rkh_site.embedded_redis``)
must not pull in Celery and Django settings, nor set ``DJANGO_SETTINGS_MODULE`` for the
commands they run. ``celery -A rkh_site`` finds ``rkh_site.celery.app`` by itself.
"""
