from django.apps import AppConfig


class AiProcessingConfig(AppConfig):
    """Provider interface, Runware/Gemini/local providers and the Runware simulator."""

    name = "ai_processing"
    verbose_name = "AI processing"
