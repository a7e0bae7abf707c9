from django.apps import AppConfig


class AiProcessingConfig(AppConfig):
    """Provider interface, Runware/Gemini/local providers, the per-image AI pipeline."""

    name = "ai_processing"
    verbose_name = "AI processing"

    def ready(self) -> None:
        from orders.signals import image_ready, ingest_ended, order_status_changed

        order_status_changed.connect(
            queue_ai_when_processing, dispatch_uid="ai_processing.queue_ai_when_processing"
        )
        image_ready.connect(queue_late_image, dispatch_uid="ai_processing.queue_late_image")
        ingest_ended.connect(settle_after_ingest, dispatch_uid="ai_processing.settle_after_ingest")

        from orders import attention

        from . import attention as ai_attention
        from . import timeline

        # The dashboard's "Needs attention": AI providers whose circuit is open.
        attention.register("ai_processing", ai_attention.provide)
        # Orders awaiting approval: to approve (yours), or waiting for a manager.
        from . import approval_attention

        attention.register("approval", approval_attention.provide)
        timeline.register()


def queue_ai_when_processing(sender, order, previous, status, **kwargs) -> None:
    """An order entering ``processing`` gets its AI work queued once the move commits."""
    from orders.models import Order
    from utilities.infrastructure import queue_after_commit

    if status != Order.Status.PROCESSING:
        return
    order_id = order.pk

    def queue() -> None:
        from .tasks import process_order

        process_order.delay(order_id)

    queue_after_commit(queue, f"the AI step of order {order_id}")


def queue_late_image(sender, image, order, **kwargs) -> None:
    """An image that passed ingest (order pending or processing) gets its AI work queued."""
    from .services import _queue_image_after_commit

    _queue_image_after_commit(image.pk)


def settle_after_ingest(sender, image, order, **kwargs) -> None:
    """An image left ingest without passing in an order already in the AI step: the order
    may wait for nothing else now (or must stop short: the image failed)."""
    from orders.models import Image

    from .services import _settle_order

    _settle_order(order, new_failure=image.status == Image.Status.FAILED)
