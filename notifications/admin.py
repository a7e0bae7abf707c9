"""Back office: notifications, their deliveries, push subscriptions and outages, read-only.

They are records of what the system told whom; nobody edits them (Admins see
them, since Admin holds every permission; other roles are not given these).
"""

from __future__ import annotations

from django.contrib import admin

from .models import (
    CustomerEmail,
    CustomerEmailSwitch,
    CustomerEmailTemplate,
    Delivery,
    Notification,
    PushSubscription,
    ServiceOutage,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ("channel", "target", "state", "attempts", "last_error", "created_at", "sent_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "user", "kind", "title", "in_app", "browser", "read_at")
    list_filter = ("kind", "in_app", "browser")
    list_select_related = ("user",)
    search_fields = ("title", "user__username", "source_key")
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]
    show_full_result_count = False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "channel", "target", "state", "attempts", "sent_at")
    list_filter = ("channel", "state")
    search_fields = ("target", "notification__title")
    raw_id_fields = ("notification", "subscription")
    show_full_result_count = False


@admin.register(PushSubscription)
class PushSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "user_agent", "created_at", "last_success_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user_agent")


@admin.register(ServiceOutage)
class ServiceOutageAdmin(ReadOnlyAdmin):
    list_display = ("label", "service", "started_at", "ended_at")
    list_filter = ("service",)


@admin.register(CustomerEmailTemplate)
class CustomerEmailTemplateAdmin(admin.ModelAdmin):
    """The one text (Managers and Admins edit it; it cannot be added twice or deleted)."""

    fields = ("subject", "body", "updated_at")
    readonly_fields = ("updated_at",)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not CustomerEmailTemplate.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        CustomerEmailTemplate.current()  # the one row exists before anyone looks
        return super().changelist_view(request, extra_context)


@admin.register(CustomerEmailSwitch)
class CustomerEmailSwitchAdmin(admin.ModelAdmin):
    list_display = ("__str__", "event", "order", "send")
    list_filter = ("send",)
    raw_id_fields = ("event", "order")
    search_fields = ("event__event_id", "order__order_ref")


@admin.register(CustomerEmail)
class CustomerEmailAdmin(ReadOnlyAdmin):
    list_display = ("order", "to", "subject", "state", "created_at", "sent_at")
    list_filter = ("state",)
    # The address is encrypted at rest: found by the order's reference only.
    search_fields = ("order__order_ref",)
