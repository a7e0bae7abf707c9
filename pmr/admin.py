"""Back office for the PMR step: the outbox (retry, skip), deliveries, webhooks received.

Every action goes through ``pmr.services`` (which checks the access rule and
writes the timeline); the rows are read-only otherwise. Lists follow the access
rule like the order admin.
"""

from __future__ import annotations

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from orders.models import Order
from utilities.admin import RestrictedAdminMixin, apply_each

from . import connection, services, variants
from .models import OrderDelivery, OutboxEntry, WebhookDelivery


@admin.action(description="Retry the selected PMR writes now")
def retry_entries(modeladmin, request, queryset):
    apply_each(
        modeladmin,
        request,
        queryset,
        lambda entry: services.retry_entry(entry, actor=request.user),
        label=lambda entry: str(entry),
        done="{n} PMR write(s) queued again.",
    )


@admin.action(description="Skip the selected PMR writes (they will not be sent)")
def skip_entries(modeladmin, request, queryset):
    apply_each(
        modeladmin,
        request,
        queryset,
        lambda entry: services.skip_entry(entry, actor=request.user, reason="admin action"),
        label=lambda entry: str(entry),
        done="{n} PMR write(s) skipped.",
    )


@admin.register(OutboxEntry)
class OutboxEntryAdmin(RestrictedAdminMixin, AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = ("id", "order", "kind", "file", "state", "attempts", "next_attempt_at", "error")
    list_filter = ("state", "kind")
    list_select_related = ("order",)
    search_fields = ("order__order_ref", "idempotency_key")
    raw_id_fields = ("order", "image")
    actions = (retry_entries, skip_entries)
    readonly_fields = [f.name for f in OutboxEntry._meta.fields]
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        state = connection.breaker().state(connection.BREAKER_NAME)
        if state["state"] != "closed":
            messages.warning(
                request,
                f"The PMR circuit is {state['state'].replace('_', '-')} "
                f"({state['failures']} failures; retry in {state['retry_in']} s): "
                "writes wait and drain by themselves when the PMR answers again.",
            )
        return super().changelist_view(request, extra_context)

    @admin.display(description="last error")
    @admin.display(description="file")
    def file(self, obj: OutboxEntry) -> str:
        """Which file of the image an upload sends (original, edited file, a print)."""
        if obj.kind != OutboxEntry.Kind.IMAGE_PUT:
            return ""
        return variants.file_label(obj.payload).removeprefix("the ") or "image"

    def error(self, obj: OutboxEntry) -> str:
        return (obj.last_error or {}).get("message", "")[:120]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.action(description="Mark as uploaded to the PMR by hand")
def mark_uploaded_by_hand(modeladmin, request, queryset):
    apply_each(
        modeladmin,
        request,
        queryset,
        lambda order: services.mark_uploaded_by_hand(order, actor=request.user),
        label=lambda order: order.order_ref,
        done="{n} order(s) marked as uploaded by hand.",
    )


@admin.register(OrderDelivery)
class OrderDeliveryAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    list_display = ("order", "pmr_status", "waiting_since", "uploaded_by_hand", "export")
    list_filter = ("pmr_status", "uploaded_by_hand")
    search_fields = ("order__order_ref",)
    readonly_fields = [f.name for f in OrderDelivery._meta.fields]
    list_select_related = ("order",)

    @admin.display(description="manual upload")
    def export(self, obj: OrderDelivery) -> str:
        url = reverse("pmr_export", args=[obj.order.order_ref])
        return format_html('<a href="{}">ZIP of processed images</a>', url)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("delivery_id", "event", "received_at", "processed_at", "outcome")
    search_fields = ("delivery_id",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The order admin gets the manual-upload action (the action lives with the PMR code).
admin.site._registry[Order].actions = (*admin.site._registry[Order].actions, mark_uploaded_by_hand)
