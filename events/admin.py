from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin

from .models import Event


@admin.register(Event)
class EventAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = ("event_id", "name", "date", "event_type", "customer_id", "pmr_validated")
    list_filter = ("event_type", "pmr_validated", "hold_for_approval")
    search_fields = ("event_id", "name", "customer_id")
    date_hierarchy = "date"
    readonly_fields = ("pmr_validated_at", "created_at", "updated_at")
