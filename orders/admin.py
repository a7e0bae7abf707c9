"""The managers' back office for orders.

Every queryset goes through ``restrict`` and every object permission through
``utilities.access.can``: the admin shows and changes exactly what the pages and
API would allow. Status moves are bulk actions that call the services, so they
are checked and written to the timeline like any other change.
"""

from __future__ import annotations

import tempfile

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import FileResponse
from django.template.response import TemplateResponse

from utilities import access
from utilities.admin import RestrictedAdminMixin, apply_each
from utilities.errors import OrderError

from . import intake, pipeline, privacy, services
from .models import Image, Order, OrderEvent, PrintSize, customer_email_q


class ImageInline(admin.TabularInline):
    model = Image
    fields = ("original_filename", "status", "status_reason", "file_size", "width", "height")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    classes = ("collapse",)

    def has_add_permission(self, request, obj=None):
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    fields = ("seq", "kind", "payload", "actor", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-seq",)
    classes = ("collapse",)

    def has_add_permission(self, request, obj=None):
        return False


def _move_orders(modeladmin, request, queryset, status: str) -> None:
    apply_each(
        modeladmin,
        request,
        queryset,
        lambda order: services.change_order_status(
            order, status, actor=request.user, reason="admin action"
        ),
        label=lambda order: order.order_ref,
        done=f"{{n}} order(s) moved to {status}.",
    )


@admin.action(description="Cancel selected orders")
def cancel_orders(modeladmin, request, queryset):
    _move_orders(modeladmin, request, queryset, Order.Status.CANCELLED)


@admin.action(description="Mark selected orders completed")
def complete_orders(modeladmin, request, queryset):
    _move_orders(modeladmin, request, queryset, Order.Status.COMPLETED)


def requeue(image: Image, actor) -> str:
    """Queue an image's stuck or failed step again: ingest for an image that never passed it,
    the AI step for one waiting for it or failed in it. Returns what was done; raises
    ``OrderError`` when the image waits for nothing (done, rejected, in review)."""
    S = Image.Status
    if image.status == S.UPLOADED or (image.status == S.FAILED and image.ingested_at is None):
        intake.retry_ingest(image, actor=actor)
        return "ingest"
    if image.status in (S.INGESTED, S.ANALYZED, S.FAILED):
        pipeline.stages().ai.resume(image, actor)
        return "AI"
    raise OrderError(f"Image {image.original_filename} is {image.status}; nothing to re-queue.")


@admin.action(description="Re-queue stuck work (images waiting or failed)")
def requeue_orders(modeladmin, request, queryset):
    """Every image of the selected orders that waits for a step (a lost message, a killed
    worker) or failed in one is queued again; the beat sweep does the same by itself after
    STUCK_AFTER_SECONDS, this is for not waiting."""
    S = Image.Status
    waiting = (S.UPLOADED, S.INGESTED, S.ANALYZED, S.FAILED)
    images = Image.objects.filter(order__in=queryset, status__in=waiting).select_related("order")
    apply_each(
        modeladmin,
        request,
        images,
        lambda image: requeue(image, request.user),
        label=lambda image: f"{image.order.order_ref} {image.original_filename}",
        done="{n} image(s) queued again.",
    )


@admin.action(description="Deliver without the failed images")
def deliver_without_failed(modeladmin, request, queryset):
    apply_each(
        modeladmin,
        request,
        queryset,
        lambda order: pipeline.deliver_without_failed(order, request.user),
        label=lambda order: order.order_ref,
        done="{n} order(s) go to the PMR without their failed images.",
    )


@admin.action(description="Start selected orders (every file is in)")
def submit_orders(modeladmin, request, queryset):
    apply_each(
        modeladmin,
        request,
        queryset,
        lambda order: intake.submit_order(order, actor=request.user),
        label=lambda order: order.order_ref,
        done="{n} order(s) submitted: they start once their files are checked.",
    )


def _one_customer(modeladmin, request, queryset) -> str | None:
    """The one customer e-mail address of the selected orders, or None (with a message)."""
    emails = {
        privacy.normalise_email(email)
        for email in queryset.values_list("customer_email", flat=True)
    }
    emails.discard("")
    if len(emails) != 1:
        modeladmin.message_user(
            request,
            f"Select orders of one customer (one e-mail address); the selection has {len(emails)}.",
            messages.ERROR,
        )
        return None
    return emails.pop()


@admin.action(description="Export this customer's data", permissions=["customer_data"])
def export_customer_data(modeladmin, request, queryset):
    """A ZIP of everything about the selected orders' customer (every order of their address,
    not only those selected); audited."""
    email = _one_customer(modeladmin, request, queryset)
    if email is None:
        return None
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 (returned)
    privacy.export_customer(email, spool, actor=request.user, request=request, via="admin")
    spool.seek(0)
    filename = f"customer-{privacy.email_fingerprint(email)[:12]}.zip"
    return FileResponse(spool, as_attachment=True, filename=filename)


@admin.action(description="Erase this customer's data", permissions=["customer_data"])
def erase_customer_data(modeladmin, request, queryset):
    """Erase every closed order of the selected orders' customer, after a confirmation page
    that lists what goes (a dry run)."""
    email = _one_customer(modeladmin, request, queryset)
    if email is None:
        return None
    if request.POST.get("confirm") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": "Erase this customer's data",
            "opts": modeladmin.model._meta,
            "email": email,
            "report": privacy.erase_customer(email, actor=request.user, dry_run=True),
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/orders/order/erase_customer_data.html", context)
    report = privacy.erase_customer(email, actor=request.user, request=request, via="admin")
    modeladmin.message_user(
        request,
        f"{len(report.erased)} order(s) of the customer erased: {report.files} file(s), "
        f"{report.bytes} bytes.",
        messages.SUCCESS,
    )
    for ref, why in report.skipped:
        modeladmin.message_user(request, f"{ref} left alone: {why}", messages.WARNING)
    return None


@admin.register(Order)
class OrderAdmin(RestrictedAdminMixin, AuditlogHistoryAdminMixin, admin.ModelAdmin):
    order_field = None  # the row is the order
    list_display = (
        "order_ref",
        "event__event_id",
        "customer_name",
        "status",
        "progress",
        "created_by",
        "assigned_to",
        "created_at",
    )
    list_filter = ("status", "ai_processed", "pmr_synced", "event__event_type", "assigned_to")
    list_select_related = ("event", "created_by", "assigned_to")
    # Customer names and e-mails are encrypted: the search also finds a whole e-mail address
    # through its keyed hash (get_search_results); names cannot be searched.
    search_fields = ("order_ref", "event__event_id")
    search_help_text = "Order reference or event ID (part of it), or a customer's whole e-mail."
    # Sorting by the customer's name would sort ciphertext: not offered.
    sortable_by = (
        "order_ref",
        "event__event_id",
        "status",
        "created_by",
        "assigned_to",
        "created_at",
    )
    date_hierarchy = "created_at"
    autocomplete_fields = ("event", "assigned_to")
    readonly_fields = (
        "order_ref",
        "status",
        "created_by",
        "total_images",
        "ingested_images",
        "processed_images",
        "synced_images",
        "rejected_images",
        "failed_images",
        "review_images",
        "ai_processed",
        "pmr_synced",
        "awaiting_submit",
        "expected_images",
        "submitted_at",
        "created_at",
        "updated_at",
        "completed_at",
        "erased_at",
    )

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if "@" in term:
            found = found | queryset.filter(customer_email_q(term))
        return found, may_have_duplicates

    fieldsets = (
        (None, {"fields": ("order_ref", "event", "status", "assigned_to", "created_by")}),
        ("Customer", {"fields": ("customer_name", "customer_email", "order_date", "notes")}),
        (
            "Progress",
            {
                "fields": (
                    ("total_images", "ingested_images", "processed_images", "synced_images"),
                    ("rejected_images", "failed_images", "review_images"),
                    ("ai_processed", "pmr_synced"),
                    ("awaiting_submit", "expected_images", "submitted_at"),
                )
            },
        ),
        (
            "Other",
            {
                "classes": ("collapse",),
                "fields": ("metadata", "created_at", "updated_at", "completed_at", "erased_at"),
            },
        ),
    )
    inlines = (ImageInline, OrderEventInline)
    actions = (
        cancel_orders,
        complete_orders,
        requeue_orders,
        deliver_without_failed,
        submit_orders,
        export_customer_data,
        erase_customer_data,
    )
    show_full_result_count = False

    def has_customer_data_permission(self, request) -> bool:
        """The customer-data actions: Admins only (``handle_customer_data``)."""
        return access.can_handle_customer_data(request.user)

    @admin.display(description="images", ordering="total_images")
    def progress(self, obj: Order) -> str:
        """Processed of total, with what needs a person's attention."""
        text = f"{obj.processed_images}/{obj.total_images}"
        extras = [
            f"{n} {label}"
            for n, label in (
                (obj.failed_images, "failed"),
                (obj.review_images, "to review"),
                (obj.rejected_images, "rejected"),
            )
            if n
        ]
        return f"{text} ({', '.join(extras)})" if extras else text

    def has_add_permission(self, request):
        return access.can_create_order(request.user)

    def get_readonly_fields(self, request, obj=None):
        # The order date is told to the PMR once the order is processing
        # (services.update_order refuses it then): show it, do not offer it.
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and not services.order_date_editable(obj):
            return (*fields, "order_date")
        return fields

    def has_change_permission(self, request, obj=None):
        # A completed or cancelled order is frozen (services.update_order refuses
        # it): show it read-only instead of failing with an error on save.
        if obj is not None and obj.is_closed:
            return False
        return super().has_change_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Timeline entries cannot be deleted one by one (OrderEventAdmin), but they
        # go with their order: without this no order could ever be deleted here.
        perms_needed.discard(OrderEvent._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def save_model(self, request, obj, form, change):
        if change:
            services.edit_order(
                Order.objects.get(pk=obj.pk),
                actor=request.user,
                changes={field: form.cleaned_data[field] for field in form.changed_data},
            )
            return
        created = services.create_order(
            actor=request.user,
            event=obj.event,
            customer_name=obj.customer_name,
            customer_email=obj.customer_email,
            notes=obj.notes,
            assigned_to=obj.assigned_to,
            order_date=obj.order_date,
            metadata=obj.metadata,
        )
        obj.pk, obj.order_ref = created.pk, created.order_ref


@admin.action(description="Retry ingest of selected failed images")
def retry_ingest(modeladmin, request, queryset):
    apply_each(
        modeladmin,
        request,
        queryset,
        lambda image: intake.retry_ingest(image, actor=request.user),
        label=lambda image: image.original_filename,
        done="{n} image(s) queued for ingest.",
    )


def _review(modeladmin, request, queryset, answer: str, done: str) -> None:
    apply_each(
        modeladmin,
        request,
        queryset,
        lambda image: pipeline.stages().ai.answer_review(image, request.user, answer),
        label=lambda image: image.original_filename,
        done=f"{{n}} image(s) {done}.",
    )


@admin.action(description="Re-queue selected images (stuck or failed)")
def requeue_images(modeladmin, request, queryset):
    apply_each(
        modeladmin,
        request,
        queryset,
        lambda image: requeue(image, request.user),
        label=lambda image: image.original_filename,
        done="{n} image(s) queued again.",
    )


@admin.action(description="Approve (mark processed)")
def approve_images(modeladmin, request, queryset):
    _review(modeladmin, request, queryset, "approve", "approved")


@admin.action(description="Redo AI processing")
def redo_images(modeladmin, request, queryset):
    _review(modeladmin, request, queryset, "redo", "queued for AI processing again")


@admin.action(description="Reject (files deleted)")
def reject_images(modeladmin, request, queryset):
    _review(modeladmin, request, queryset, "reject", "rejected")


@admin.register(Image)
class ImageAdmin(RestrictedAdminMixin, AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "original_filename",
        "order",
        "status",
        "mime_type",
        "width",
        "height",
        "file_size",
        "created_at",
    )
    list_filter = ("status", "review_reason", "mime_type", "ai_analyzed")
    list_select_related = ("order",)
    actions = (retry_ingest, requeue_images, approve_images, redo_images, reject_images)
    search_fields = ("original_filename", "sha256", "order__order_ref")
    date_hierarchy = "created_at"
    raw_id_fields = ("order",)
    readonly_fields = (
        "order",
        "original",
        "original_filename",
        "file_size",
        "mime_type",
        "width",
        "height",
        "sha256",
        "status",
        "status_reason",
        "review_reason",
        "ai_analyzed",
        "pmr_url",
        "created_at",
        "updated_at",
    )
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # images arrive through upload and ingest, never typed in


@admin.register(OrderEvent)
class OrderEventAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    list_display = ("order", "seq", "kind", "actor", "created_at")
    list_filter = ("kind",)
    list_select_related = ("order", "actor")
    search_fields = ("order__order_ref", "kind")
    date_hierarchy = "created_at"
    readonly_fields = ("order", "seq", "kind", "payload", "actor", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PrintSize)
class PrintSizeAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    """The print sizes the studio sells; managers keep the list (docs/prints.md).

    A size some order uses cannot be deleted (the lines protect it): make it
    inactive instead, and new orders no longer offer it.
    """

    list_display = ("label", "code", "width_in", "height_in", "active", "position")
    list_editable = ("active", "position")
    list_filter = ("active",)
    search_fields = ("code", "label")
    ordering = ("position", "code")
