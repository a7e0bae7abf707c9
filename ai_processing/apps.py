from django.apps import AppConfig


class AiProcessingConfig(AppConfig):
    """Provider interface, Runware/Gemini/local providers, the per-image AI pipeline."""

    name = "ai_processing"
    verbose_name = "AI processing"

    def ready(self) -> None:
        from orders.signals import image_ready, order_status_changed

        order_status_changed.connect(
            queue_ai_when_processing, dispatch_uid="ai_processing.queue_ai_when_processing"
        )
        image_ready.connect(queue_late_image, dispatch_uid="ai_processing.queue_late_image")

        from orders import attention

        from . import attention as ai_attention
        from . import timeline

        # The dashboard's "Needs attention": AI providers whose circuit is open.
        attention.register("ai_processing", ai_attention.provide)
        timeline.register()


def queue_ai_when_processing(sender, order, previous, status, **kwargs) -> None:
    """An order entering ``processing`` gets its AI work queued once the move commits."""
    from django.db import transaction

    from orders.models import Order

    if status != Order.Status.PROCESSING:
        return
    order_id = order.pk

    def queue() -> None:
        from .tasks import process_order

        process_order.delay(order_id)

    transaction.on_commit(queue)


def queue_late_image(sender, image, order, **kwargs) -> None:
    """An image that passed ingest (order pending or processing) gets its AI work queued."""
    from django.db import transaction

    image_id = image.pk

    def queue() -> None:
        from .tasks import process_image

        process_image.delay(image_id)

    transaction.on_commit(queue)
