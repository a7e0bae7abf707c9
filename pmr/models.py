"""The PMR outbox and what the project knows of each order's delivery.

Every PMR write is first a row of ``OutboxEntry``, written in the same database
transaction as the change that needs it (so a change can never be committed
without its PMR write, nor the other way round). Workers drain the rows of an
order in ``id`` order; a row is ``done`` only after the PMR confirmed it, and
each write carries the row's idempotency key, so sending it again after a lost
answer or a killed worker stores nothing twice.
"""

from __future__ import annotations

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models

from utilities.querysets import RestrictedQuerySet


class OrderChildQuerySet(RestrictedQuerySet):
    """Rows that belong to an order follow the order's access rule (``restrict``)."""

    order_path = "order__"


class OutboxEntry(models.Model):
    class Kind(models.TextChoices):
        ORDER_PUT = "order.put", "Order metadata"
        IMAGE_PUT = "image.put", "Image upload"
        ORDER_STATUS = "order.status", "Status change"
        #: No PMR call: reached when every row before it is done; completes the order.
        ORDER_FINISH = "order.finish", "Finish delivery"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        #: The PMR refused the write (a 4xx other than 429): a person must look at it.
        FAILED = "failed", "Failed"
        #: A manager decided this write will not be made (audited).
        SKIPPED = "skipped", "Skipped"

    #: States after which the row is never sent again.
    FINAL = frozenset({State.DONE, State.SKIPPED})

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="pmr_outbox")
    image = models.ForeignKey(
        "orders.Image", on_delete=models.CASCADE, null=True, blank=True, related_name="pmr_outbox"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    payload = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    done_at = models.DateTimeField(null=True, blank=True)

    objects = OrderChildQuerySet.as_manager()

    class Meta:
        verbose_name = "PMR outbox entry"
        verbose_name_plural = "PMR outbox"
        ordering = ("id",)
        indexes = [
            # The drain: an order's open rows in order; the sweep: due rows of any order.
            models.Index(fields=["order", "state", "id"], name="pmr_outbox_order_state"),
            models.Index(
                fields=["next_attempt_at"],
                name="pmr_outbox_due",
                condition=models.Q(state="pending"),
            ),
            # The dashboard's "Needs attention": refused writes, found without a scan.
            models.Index(
                fields=["id"], name="pmr_outbox_failed", condition=models.Q(state="failed")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"


class OrderDelivery(models.Model):
    """One per order that has PMR work: where its delivery stands, and the PMR's own view."""

    class PmrStatus(models.TextChoices):
        NONE = "", "—"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        DELIVERED = "delivered", "Delivered"
        REJECTED = "rejected", "Rejected"
        ON_HOLD = "on_hold", "On hold"

    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, related_name="pmr_delivery"
    )
    pmr_order_id = models.CharField("PMR order id", max_length=100, blank=True)
    pmr_status = models.CharField(
        "PMR status", max_length=20, choices=PmrStatus.choices, blank=True, default=""
    )
    pmr_status_reason = models.TextField("PMR status reason", blank=True)
    pmr_changed_at = models.DateTimeField("PMR changed at", null=True, blank=True)
    #: Set while rows wait because the PMR is unreachable (offline mode); cleared when they move.
    waiting_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    uploaded_by_hand = models.BooleanField(default=False)
    uploaded_by_hand_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderChildQuerySet.as_manager()

    class Meta:
        verbose_name = "PMR delivery"
        verbose_name_plural = "PMR deliveries"
        indexes = [
            # The dashboard's "Needs attention": orders waiting for the PMR (offline mode).
            models.Index(
                fields=["waiting_since"],
                name="pmr_delivery_waiting",
                condition=models.Q(waiting_since__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"PMR delivery of order {self.order_id}"


class WebhookDelivery(models.Model):
    """A PMR webhook we accepted, by its ``X-PMR-Delivery`` id: a repeat is answered, not redone."""

    delivery_id = models.CharField(max_length=100, unique=True)
    event = models.CharField(max_length=50)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "PMR webhook delivery"
        verbose_name_plural = "PMR webhook deliveries"
        ordering = ("-received_at",)

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"


class SyncCursor(models.Model):
    """Where the scheduled pull (``GET /v1/orders?updated_since=``) starts next time."""

    name = models.CharField(max_length=50, unique=True)
    value = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.value.isoformat()}"


auditlog.register(OutboxEntry, exclude_fields=["updated_at"])
auditlog.register(OrderDelivery, exclude_fields=["updated_at"])
