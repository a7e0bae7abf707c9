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

    # --- quality gate: the local measures (docs/ai.md, "Quality gate") turned into decisions.
    # Empty = no gate on that measure. An image past a limit waits for review, with the reason.
    gate_min_sharpness = models.FloatField(
        "minimum sharpness",
        null=True,
        blank=True,
        help_text="Variance of the Laplacian at a long side of 1024 px (blurred < 100 ≤ soft "
        "< 250 ≤ sharp). Images under it wait for review as blurred. Empty: no check.",
    )
    gate_max_clipped_shadows = models.FloatField(
        "most clipped shadows (%)",
        null=True,
        blank=True,
        help_text="Share of pixels at or under luminance 5, in percent, over which an image "
        "waits for review as underexposed. Empty: no check.",
    )
    gate_max_clipped_highlights = models.FloatField(
        "most clipped highlights (%)",
        null=True,
        blank=True,
        help_text="Share of pixels at or over luminance 250, in percent, over which an image "
        "waits for review as overexposed. Empty: no check.",
    )
    gate_max_noise = models.FloatField(
        "most noise",
        null=True,
        blank=True,
        help_text="Noise sigma in 0-255 units (clean ≤ 3 < some ≤ 6 < noisy), over which an "
        "image waits for review as noisy. Empty: no check.",
    )
    gate_min_short_side = models.PositiveIntegerField(
        "minimum pixel size (short side)",
        null=True,
        blank=True,
        help_text="Fewest pixels on the original's shorter side (1200 is a 4x6 print at 300 "
        "dpi), under which an image waits for review as too small. Empty: no check.",
    )

    # --- hold for approval (docs/approval.md): an event's own setting wins over these.
    hold_for_approval = models.BooleanField(
        default=False,
        help_text="Orders with this preset wait for a person's approval after their AI step; "
        "nothing reaches the PMR before.",
    )
    owner_may_approve = models.BooleanField(
        "the order's user may approve",
        default=False,
        help_text="Besides managers, the order's creator or assignee may approve or turn down "
        "its images.",
    )
    auto_approve_hours = models.PositiveIntegerField(
        "approve by itself after (hours)",
        null=True,
        blank=True,
        help_text="An order nobody objected to within this many hours is approved by itself. "
        "Empty: it waits for a person however long it takes.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


auditlog.register(ProcessingPreset)
