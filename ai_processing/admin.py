from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin

from .models import ProcessingPreset


@admin.register(ProcessingPreset)
class ProcessingPresetAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "operations",
        "print_aspect",
        "hold_for_approval",
        "is_active",
        "updated_at",
    )
    list_filter = ("is_active", "hold_for_approval")
    search_fields = ("name", "description", "edit_prompt", "caption_prompt")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "slug",
                    "description",
                    "operations",
                    "edit_prompt",
                    "caption_prompt",
                    "print_aspect",
                    "is_active",
                )
            },
        ),
        (
            "Quality gate (empty: no check; docs/ai.md)",
            {
                "fields": (
                    "gate_min_sharpness",
                    "gate_max_clipped_shadows",
                    "gate_max_clipped_highlights",
                    "gate_max_noise",
                    "gate_min_short_side",
                )
            },
        ),
        (
            "Hold for approval (an event's own setting wins; docs/approval.md)",
            {"fields": ("hold_for_approval", "owner_may_approve", "auto_approve_hours")},
        ),
    )
