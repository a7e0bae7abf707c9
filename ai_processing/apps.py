from django.apps import AppConfig


class AiProcessingConfig(AppConfig):
    """Provider interface, Runware/Gemini/local providers, the per-image AI pipeline."""

    name = "ai_processing"
    verbose_name = "AI processing"

    def ready(self) -> None:
        from orders import attention

        from . import attention as ai_attention
        from . import timeline

        # The dashboard's "Needs attention": AI providers whose circuit is open.
        attention.register("ai_processing", ai_attention.provide)
        # Orders awaiting approval: to approve (yours), or waiting for a manager.
        from . import approval_attention

        attention.register("approval", approval_attention.provide)
        timeline.register()
