"""Notifications: what a person is told, through which channel, and what was sent.

- ``Notification``: one thing one user is told, once. ``(user, source_key)`` is
  unique, and the source key names the event it comes from (the timeline row
  ``order-event:<id>``, the outage ``outage:<id>``, the sign-in window), so a
  redelivered task or a repeated signal finds the row made and makes nothing.
  It is also the in-app notification (the bell and ``/notifications/``).
- ``Delivery``: one outward message of a notification (an e-mail, a push to one
  browser). ``(notification, channel, target)`` is unique, and a sender claims a
  row (pending → sending) before it sends, so nothing is sent twice.
- ``PushSubscription``: a browser that asked for Web Push (endpoint and keys).
- ``ServiceOutage``: an outside service down, from the circuit breaker, so that
  an outage is told once however many calls fail.
- ``CustomerEmailTemplate``, ``CustomerEmailSwitch``, ``CustomerEmail``: the optional e-mail to
  the customer on delivery: its text, where it is switched on (an event, an order), and the
  one sent per order.
"""

from __future__ import annotations

import re

from auditlog.registry import auditlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from accounts.preferences import CHANNELS, KINDS
from utilities import access
from utilities.encrypted_fields import EncryptedCharField, EncryptedEmailField, EncryptedTextField


class Kind(models.TextChoices):
    ORDER_COMPLETED = "order_completed", KINDS["order_completed"]
    ORDER_NEEDS_REVIEW = "order_needs_review", KINDS["order_needs_review"]
    ORDER_AWAITING_APPROVAL = "order_awaiting_approval", KINDS["order_awaiting_approval"]
    ORDER_APPROVED = "order_approved", KINDS["order_approved"]
    PMR_REFUSED = "pmr_refused", KINDS["pmr_refused"]
    SERVICE_DOWN = "service_down", KINDS["service_down"]
    FAILED_SIGNINS = "failed_signins", KINDS["failed_signins"]
    BACKUP_FAILED = "backup_failed", KINDS["backup_failed"]


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user):
        """The user's own notifications that they may still see: one about an order is
        hidden once the access rule no longer lets them view the order."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        mine = self.filter(user=user)
        scope = access.order_scope(user, access.Action.VIEW, prefix="order__")
        if scope is None:
            return mine.filter(order__isnull=True)
        if scope == Q():
            return mine
        return mine.filter(Q(order__isnull=True) | scope)

    def in_app(self):
        return self.filter(in_app=True)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One thing one user is told (and the entry of their notification centre)."""

    Kind = Kind

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    source_key = models.CharField(
        max_length=200, help_text="The event it comes from; one notification per user and event."
    )
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True, help_text="Where it is seen or fixed.")
    in_app = models.BooleanField(
        default=True, help_text="Shown in the notification centre (the user's choice then)."
    )
    browser = models.BooleanField(
        default=True, help_text="Shown as a browser notification (the user's choice then)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "source_key"], name="notifications_once_per_user_and_source"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notifications_user_newest"),
            models.Index(
                fields=["user"],
                condition=Q(read_at__isnull=True, in_app=True),
                name="notifications_user_unread",
            ),
        ]
        permissions = [
            ("receive_service_alerts", "Is notified when an AI provider or the PMR is down"),
            ("receive_security_alerts", "Is notified of repeated failed sign-ins"),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.user}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Delivery(models.Model):
    """One outward message of a notification: an e-mail, or a push to one browser."""

    class Channel(models.TextChoices):
        EMAIL = "email", CHANNELS["email"]
        PUSH = "push", "Web Push"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        RETRY = "retry", "Failed, will retry"
        FAILED = "failed", "Failed"
        GONE = "gone", "Subscription gone"

    #: States a sender may claim.
    CLAIMABLE = (State.PENDING, State.RETRY)

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    target = models.CharField(
        max_length=300, help_text="The e-mail address, or the push subscription's number."
    )
    subscription = models.ForeignKey(
        "notifications.PushSubscription",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel", "target"], name="deliveries_once_per_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.target}: {self.get_state_display()}"


class PushSubscription(models.Model):
    """A browser that asked for Web Push: where to send (``endpoint``) and its keys."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000, unique=True)
    # The browser's key pair for this subscription: with them anyone holding the endpoint
    # can write messages the browser shows, so they are encrypted at rest.
    p256dh = EncryptedCharField("public key (p256dh)", max_length=200)
    auth = EncryptedCharField("auth secret", max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user}: {self.user_agent[:60] or 'a browser'}"


class ServiceOutage(models.Model):
    """An outside service (an AI provider, the PMR) down: from its circuit opening until it
    closes. At most one open outage per service, so it is told once."""

    service = models.CharField(max_length=50, help_text="`pmr` or `ai:<provider>`.")
    label = models.CharField(max_length=100)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(ended_at__isnull=True),
                name="service_outages_one_open_per_service",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} down since {self.started_at:%Y-%m-%d %H:%M}"


# --- the customer's e-mail on delivery (optional) ----------------------------------------------

#: Placeholders the customer e-mail's subject and body may use (``customer_email.render``).
CUSTOMER_EMAIL_PLACEHOLDERS = (
    "customer_name",
    "order_ref",
    "event_name",
    "event_id",
    "event_date",
    "image_count",
)


def _check_placeholders(text: str) -> None:
    unknown = sorted(set(re.findall(r"\{(\w*)\}", text)) - set(CUSTOMER_EMAIL_PLACEHOLDERS))
    if unknown:
        known = ", ".join("{%s}" % name for name in CUSTOMER_EMAIL_PLACEHOLDERS)  # noqa: UP031
        raise ValidationError(
            f"Unknown placeholder(s): {', '.join('{' + n + '}' for n in unknown)}. Use {known}."
        )


class CustomerEmailTemplate(models.Model):
    """The text of the e-mail a customer gets when their order is delivered: one row, edited
    by Managers and Admins in the back office."""

    subject = models.CharField(
        max_length=200,
        default="Your photos of {event_name} are ready",
        validators=[_check_placeholders],
    )
    body = models.TextField(
        default=(
            "Dear {customer_name},\n\n"
            "your order {order_ref} for {event_name} is complete: {image_count} photos "
            "have been delivered.\n\nKind regards,\nyour photo studio"
        ),
        validators=[_check_placeholders],
        help_text="Placeholders: {customer_name}, {order_ref}, {event_name}, {event_id}, "
        "{event_date}, {image_count}. Plain text.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "customer e-mail text"
        verbose_name_plural = "customer e-mail text"

    def __str__(self) -> str:
        return "E-mail to the customer on delivery"

    @classmethod
    def current(cls) -> CustomerEmailTemplate:
        template, _ = cls.objects.get_or_create(pk=1)
        return template


class CustomerEmailSwitch(models.Model):
    """Send the customer e-mail for an event's orders, or for one order (which wins over its
    event). Off when neither says so."""

    event = models.OneToOneField(
        "events.Event", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    send = models.BooleanField(
        "send the e-mail",
        default=True,
        help_text="Off: do not send it (e.g. one order of an event that sends it).",
    )

    class Meta:
        verbose_name = "customer e-mail switch"
        constraints = [
            models.CheckConstraint(
                condition=Q(event__isnull=False, order__isnull=True)
                | Q(event__isnull=True, order__isnull=False),
                name="customer_email_switch_event_or_order",
                violation_error_message="Choose an event or an order (one of them).",
            ),
        ]

    def __str__(self) -> str:
        what = f"order {self.order}" if self.order_id else f"event {self.event}"
        return f"{'Send' if self.send else 'Do not send'} for {what}"


class CustomerEmail(models.Model):
    """The customer e-mail of one order: made once (unique per order) before it is sent."""

    class State(models.TextChoices):
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="+")
    # A copy of the customer's address and the text sent (with their name): personal data,
    # encrypted at rest like the order's own fields.
    to = EncryptedEmailField()
    subject = EncryptedCharField(max_length=300)
    body = EncryptedTextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.SENDING)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        # Not the address or the subject: this text is the audit log's plain object_repr.
        return f"Customer e-mail #{self.pk}"


# Who switched the customer e-mail on, who edited its text, and what was sent: audited.
auditlog.register(CustomerEmailTemplate)
auditlog.register(CustomerEmailSwitch)
# The address and text are encrypted: the log says they were set, not what they were.
auditlog.register(
    CustomerEmail,
    mask_fields=["to", "subject", "body"],
    mask_callable="utilities.encrypted_fields.mask_for_audit",
)
