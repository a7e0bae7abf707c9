"""Processing presets: what the AI step does to an order's images.

Managers keep them in the admin; an order names one when it is created. The
pipeline that carries them out arrives with the AI processing issue.
"""

from __future__ import annotations

from auditlog.registry import auditlog
from django.db import models


class ProcessingPreset(models.Model):
    class Operation(models.TextChoices):
        ANALYZE = "analyze", "Analyze (quality and content)"
        EDIT = "edit", "Edit (retouch from the prompt)"
        CAPTION = "caption", "Caption (caption, alt text, keywords)"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    operations = models.JSONField(
        default=list, help_text='Operations to run, in order: any of "analyze", "edit", "caption".'
    )
    edit_prompt = models.TextField(blank=True)
    caption_prompt = models.TextField(blank=True)
    print_aspect = models.CharField(
        max_length=10,
        blank=True,
        help_text='Optional print aspect to crop for, as "W:H" (e.g. "4:5", "2:3").',
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


auditlog.register(ProcessingPreset)
