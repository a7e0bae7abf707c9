from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Read-only dashboard over orders, images and PMR delivery; it owns no tables."""

    name = "analytics"
    verbose_name = "Analytics"
