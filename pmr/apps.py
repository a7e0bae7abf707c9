from django.apps import AppConfig


class PmrConfig(AppConfig):
    """PMR client, outbox, sync, webhook and the PMR simulator."""

    name = "pmr"
    verbose_name = "PMR integration"
