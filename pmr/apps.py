from django.apps import AppConfig


class PmrConfig(AppConfig):
    """PMR client, outbox, sync, webhook and the PMR simulator."""

    name = "pmr"
    verbose_name = "PMR integration"

    def ready(self) -> None:
        from orders import attention, live
        from orders import privacy as order_privacy

        from . import attention as pmr_attention
        from . import box, privacy, timeline

        # The dashboard's "Needs attention": the PMR unreachable, writes it refused.
        attention.register("pmr", pmr_attention.provide)
        timeline.register()
        live.register_state_part("pmr", box.delivery_box, fields=box.ORDER_FIELDS)
        # A customer's data erased or exported (retention, requests): the outbox holds some.
        order_privacy.register("pmr", erase=privacy.erase, export=privacy.export)
