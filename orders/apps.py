from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from . import attention, signals, timeline  # noqa: F401 (signals: the live doorbell)

        # The dashboard's "Needs attention": images waiting for review, failed images.
        attention.register("orders", attention.review_and_failures)
        timeline.register_order_kinds()
