"""The project package as an installed app (for its management commands), and where the
Celery app is loaded so that ``shared_task``s of every process use its configuration."""

from django.apps import AppConfig


class RkhSiteConfig(AppConfig):
    name = "rkh_site"
    verbose_name = "RKH Photo Orders"

    def ready(self) -> None:
        # The project's Celery app becomes the current app; the production secrets check
        # (rkh_site.checks, imported by it) is registered.
        # The product's metrics (queues, outbox, circuits, durations) are read at scrape time.
        from . import celery, metrics  # noqa: F401

        metrics.register()
