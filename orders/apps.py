from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from utilities import breakers

        from . import attention, signals, timeline  # noqa: F401 (signals: the live doorbell)

        # The dashboard's "Needs attention": images waiting for review, failed images.
        attention.register("orders", attention.review_and_failures)
        # ... and an outside service down or back (the breakers sit below every app).
        breakers.circuit_changed.connect(
            attention.circuit_changed, dispatch_uid="orders.attention.circuit_changed"
        )
        timeline.register_order_kinds()
