from django.apps import AppConfig


class PmrConfig(AppConfig):
    """PMR client, outbox, sync, webhook and the PMR simulator."""

    name = "pmr"
    verbose_name = "PMR integration"

    def ready(self) -> None:
        from orders.signals import ai_completed, order_status_changed

        order_status_changed.connect(status_to_outbox, dispatch_uid="pmr.status_to_outbox")
        ai_completed.connect(deliver_when_ai_done, dispatch_uid="pmr.deliver_when_ai_done")

        from orders import attention, live

        from . import attention as pmr_attention
        from . import box, timeline

        # The dashboard's "Needs attention": the PMR unreachable, writes it refused.
        attention.register("pmr", pmr_attention.provide)
        timeline.register()
        live.register_state_part("pmr", box.delivery_box, fields=box.ORDER_FIELDS)


def status_to_outbox(sender, order, previous, status, **kwargs) -> None:
    """A status change the PMR knows goes into the outbox, in the change's own transaction."""
    from . import outbox

    outbox.push_status(order, status, note=f"was {previous}")


def deliver_when_ai_done(sender, order, **kwargs) -> None:
    """An order whose AI work is done gets its images into the outbox (same transaction)."""
    from . import outbox

    outbox.deliver(order)
