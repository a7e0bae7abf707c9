from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin

from .models import ProcessingPreset


@admin.register(ProcessingPreset)
class ProcessingPresetAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = ("name", "operations", "print_aspect", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name", "description", "edit_prompt", "caption_prompt")
    prepopulated_fields = {"slug": ("name",)}
