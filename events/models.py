"""Events: the shoots whose Event ID in the PMR every order belongs to."""

from __future__ import annotations

from auditlog.registry import auditlog
from django.core.validators import RegexValidator
from django.db import models

#: PMR Event IDs: letters, digits, dot, dash and underscore; no spaces or slashes,
#: since the ID travels in PMR URL paths.
event_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$",
    "An Event ID is 1 to 50 letters, digits, dots, dashes or underscores.",
)


class Event(models.Model):
    class Type(models.TextChoices):
        WEDDING = "wedding", "Wedding"
        SCHOOL = "school", "School"
        SPORTS = "sports", "Sports"
        CORPORATE = "corporate", "Corporate"
        PORTRAIT = "portrait", "Portrait"
        OTHER = "other", "Other"

    event_id = models.CharField(
        "Event ID", max_length=50, unique=True, validators=[event_id_validator]
    )
    name = models.CharField(max_length=255, blank=True)
    date = models.DateField(null=True, blank=True)
    event_type = models.CharField(
        "type", max_length=100, choices=Type.choices, default=Type.OTHER, blank=True
    )
    customer_id = models.CharField("PMR customer ID", max_length=100, blank=True)
    pmr_validated = models.BooleanField("validated in PMR", default=False)
    pmr_validated_at = models.DateTimeField("validated at", null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Hold(models.TextChoices):
        PRESET = "", "As the order's preset says"
        HOLD = "hold", "Hold every order for approval"
        RELEASE = "release", "Never hold (deliver without approval)"

    # Hold for approval (docs/approval.md): when set, this wins over the order's preset, and
    # then the two settings below (not the preset's) say who approves and how long it waits.
    hold_for_approval = models.CharField(
        max_length=10,
        choices=Hold.choices,
        default=Hold.PRESET,
        blank=True,
        help_text="Whether this event's orders wait for a person's approval after their AI "
        "step. Set, it wins over the preset's setting.",
    )
    owner_may_approve = models.BooleanField(
        "the order's user may approve",
        default=False,
        help_text="With the hold set here: besides managers, the order's creator or assignee "
        "may approve or turn down its images.",
    )
    auto_approve_hours = models.PositiveIntegerField(
        "approve by itself after (hours)",
        null=True,
        blank=True,
        help_text="With the hold set here: an order nobody objected to within this many hours "
        "is approved by itself. Empty: it waits for a person.",
    )
    # Retention (docs/deployment.md "Retention"): this event's orders keep their customer's
    # data and files this many days after completion instead of RETENTION_DAYS.
    retention_days = models.PositiveIntegerField(
        "keep customer data for (days)",
        null=True,
        blank=True,
        help_text="Days after an order is completed (or cancelled) before its files and its "
        "customer's data are erased. Empty: the installation's RETENTION_DAYS; 0: never.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "event_id"]
        indexes = [models.Index(fields=["date"], name="events_date_idx")]

    def __str__(self) -> str:
        return f"{self.event_id} — {self.name}" if self.name else self.event_id


auditlog.register(Event)
