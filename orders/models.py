"""Orders, their images and their timeline.

Status fields are only changed through ``orders.services``; the allowed moves
are declared here, next to the statuses, so the state machine reads in one
place and the services only have to ask ``can_move``.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q

from utilities.encrypted_fields import (
    EncryptedCharField,
    EncryptedEmailField,
    EncryptedTextField,
    KeyedHashField,
    email_hash,
)
from utilities.querysets import RestrictedQuerySet

from . import tallies
from .natural import natural_key


class OrderQuerySet(RestrictedQuerySet):
    order_path = ""

    def for_customer_email(self, email: str) -> OrderQuerySet:
        """Orders whose customer e-mail is ``email``, in any case (surrounding space ignored).

        The address is stored encrypted, so the database cannot compare it: the lookup goes
        through its keyed hash (``customer_email_hash``, indexed). An empty address matches
        nothing (orders without one are not one customer's).
        """
        digest = email_hash(email)
        return self.filter(customer_email_hash=digest) if digest else self.none()

    def update(self, **kwargs: Any) -> int:
        """``update`` that keeps the e-mail's hash in step when it sets the e-mail (blanking
        addresses in bulk, say); an expression as the new address is refused (its hash could
        not be known)."""
        if "customer_email" in kwargs and "customer_email_hash" not in kwargs:
            value = kwargs["customer_email"]
            if value is not None and not isinstance(value, str):
                raise TypeError("customer_email must be set to a string, to hash it.")
            kwargs["customer_email_hash"] = email_hash(value)
        if not tallies.FIELDS & kwargs.keys():
            return super().update(**kwargs)
        # The dashboard's counters (orders.tallies) follow, in the same transaction.
        with transaction.atomic(using=self.db):
            # The rows locked and read before are the rows changed (not a second match of
            # the filter, which a concurrent insert could widen).
            pks = list(self.values_list("pk", flat=True))
            rows = Order.objects.using(self.db).filter(pk__in=pks)
            key_fields = ("status", "created_by_id", "assigned_to_id")
            old = list(rows.select_for_update().values_list(*key_fields))
            changed = super(OrderQuerySet, rows).update(**kwargs)
            tallies.record(old, rows.values_list(*key_fields))
            return changed

    def bulk_create(self, objs, *args: Any, **kwargs: Any):
        """``bulk_create`` that counts the new orders in the dashboard's counters."""
        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            tallies.record([], [order.tally_key() for order in created])
        return created


def customer_email_q(term: str) -> Q:
    """``Q`` of the orders whose customer e-mail is ``term`` (any case), for searches that
    OR it with other conditions; matches nothing unless ``term`` looks like an address."""
    digest = email_hash(term) if "@" in (term or "") else ""
    return Q(customer_email_hash=digest) if digest else Q(pk__in=[])


class ImageQuerySet(RestrictedQuerySet):
    order_path = "order__"


class OrderEventQuerySet(RestrictedQuerySet):
    order_path = "order__"


class OrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    NEEDS_REVIEW = "needs_review", "Needs review"
    #: The AI step is done and a person must approve the result before anything goes to the
    #: PMR (a hold set on the preset or the event: docs/approval.md).
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ImageStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    INGESTED = "ingested", "Ingested"
    ANALYZED = "analyzed", "Analyzed"
    PROCESSED = "processed", "Processed"
    SYNCED = "synced", "Delivered to the PMR"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    NEEDS_REVIEW = "needs_review", "Needs review"


class ReviewReason(models.TextChoices):
    """Why an image waits for review, as a code the review queue filters and counts by.

    ``status_reason`` keeps the sentence for people; this is its category, set
    wherever an image moves to ``needs_review`` (``services.change_image_status``).
    ``quality`` and ``hand_edit`` have no producer yet: they are there for checks
    that send an image to review for those reasons (a blur check at ingest, a
    preset that asks for retouching) without another migration.
    """

    NEAR_DUPLICATE = "near_duplicate", "Near-duplicate"
    NO_PROVIDER = "no_provider", "No AI provider could do it"
    QUALITY = "quality", "Quality"
    HAND_EDIT = "hand_edit", "Hand-edit needed"
    #: A crop for an ordered print size has fewer pixels than the size needs at
    #: ``PRINT_MIN_DPI`` (``orders.prints.print_shortfall``).
    PRINT_SIZE = "print_size", "Too small for a print size"
    #: A person who approves the order's results turned this one down (docs/approval.md).
    APPROVAL = "approval", "Turned down at approval"
    OTHER = "other", "Other"


class OrderRefSequence(models.Model):
    """Last number handed out per year, for ``ORD-<year>-<number>`` references."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_value}"


class Order(models.Model):
    Status = OrderStatus
    S = OrderStatus
    TRANSITIONS: dict[str, frozenset[str]] = {
        S.DRAFT: frozenset({S.PENDING, S.CANCELLED}),
        S.PENDING: frozenset({S.PROCESSING, S.DRAFT, S.FAILED, S.CANCELLED}),
        S.PROCESSING: frozenset(
            {S.NEEDS_REVIEW, S.AWAITING_APPROVAL, S.COMPLETED, S.FAILED, S.CANCELLED}
        ),
        S.NEEDS_REVIEW: frozenset({S.PROCESSING, S.COMPLETED, S.FAILED, S.CANCELLED}),
        # Approved → processing (and on to the PMR); an image turned down → needs_review;
        # reprocessing with another preset → processing.
        S.AWAITING_APPROVAL: frozenset({S.PROCESSING, S.NEEDS_REVIEW, S.FAILED, S.CANCELLED}),
        S.FAILED: frozenset({S.PENDING, S.PROCESSING, S.CANCELLED}),
        S.COMPLETED: frozenset(),
        S.CANCELLED: frozenset(),
    }
    #: Statuses in which the order is finished and its content frozen.
    CLOSED = frozenset({S.COMPLETED, S.CANCELLED})

    order_ref = models.CharField(
        "order reference",
        max_length=20,
        unique=True,
        editable=False,
        help_text="Stable public reference, used in URLs and toward the PMR.",
    )
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="orders")
    # Personal data, encrypted at rest (utilities/encrypted_fields.py, docs/deployment.md): the
    # database holds ciphertext, so it can neither search nor sort these; an e-mail address
    # is found through its keyed hash (``Order.objects.for_customer_email``).
    customer_name = EncryptedCharField(max_length=255)
    customer_email = EncryptedEmailField(max_length=255, blank=True)
    customer_email_hash = KeyedHashField(
        "customer e-mail hash",
        source="customer_email",
        help_text="HMAC-SHA256 of the lower-cased e-mail address (FIELD_HASH_KEY), for lookups.",
    )
    order_date = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.DRAFT)
    notes = EncryptedTextField(blank=True)
    preset = models.ForeignKey(
        "ai_processing.ProcessingPreset",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name="processing preset",
    )

    # Image counters: derived from the images by services.refresh_image_counters,
    # stored so that lists of thousands of orders need no aggregate per row.
    total_images = models.PositiveIntegerField(default=0)
    ingested_images = models.PositiveIntegerField(default=0)
    processed_images = models.PositiveIntegerField(default=0)
    synced_images = models.PositiveIntegerField(default=0)
    rejected_images = models.PositiveIntegerField(default=0)
    failed_images = models.PositiveIntegerField(default=0)
    review_images = models.PositiveIntegerField(default=0)

    ai_processed = models.BooleanField("AI processed", default=False)
    ai_cost = models.DecimalField(
        "AI cost (USD)",
        max_digits=12,
        decimal_places=6,
        default=0,
        editable=False,
        help_text="Sum of the images' AI costs.",
    )
    pmr_synced = models.BooleanField("synced to PMR", default=False)

    # Orders whose files come from another system (the REST API, a folder import) wait for it
    # to say "this is all" (orders.intake.submit_order) or for the files it announced: an
    # order must not start, and close, while its client is still uploading (docs/api.md).
    awaiting_submit = models.BooleanField(
        default=False,
        editable=False,
        help_text="The order waits in pending until its client submits it (or sends "
        "expected_images files).",
    )
    expected_images = models.PositiveIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="How many files the client said it would send.",
    )
    submitted_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the client said it sent every file."
    )

    # Hold for approval (docs/approval.md): what the rule said when the order last entered
    # awaiting_approval, kept on the order so the access rule and the beat task read one row.
    approval_owner_may_approve = models.BooleanField(
        "its user may approve",
        default=False,
        editable=False,
        help_text="While it awaits approval: its creator or assignee may approve it too.",
    )
    approval_due_at = models.DateTimeField(
        "approved by itself at",
        null=True,
        blank=True,
        editable=False,
        help_text="While it awaits approval: when it is approved by itself if nobody objects.",
    )
    approval_rule = models.CharField(
        max_length=20,
        blank=True,
        editable=False,
        help_text='Whose setting held it: "event" or "preset".',
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="orders_created",
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders_assigned",
    )
    last_event_seq = models.PositiveIntegerField(default=0, editable=False)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    #: When the customer's personal data and files were erased (retention or the customer's
    #: request: ``orders.privacy``); the row stays for the statistics, never erased twice.
    erased_at = models.DateTimeField(
        "personal data erased at", null=True, blank=True, editable=False
    )

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("process_order", "Can start and retry processing of orders"),
            ("view_all_orders", "Can view every order, not only own and assigned"),
            ("manage_all_orders", "Can change and process every order"),
            ("assign_order", "Can assign orders to users"),
            ("view_analytics", "Can view analytics"),
            ("handle_customer_data", "Can export and erase a customer's data"),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="orders_status_created_idx"),
            models.Index(fields=["-created_at", "-id"], name="orders_created_idx"),
            models.Index(fields=["customer_email_hash"], name="orders_customer_email_hash_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="orders_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(processed_images__lte=models.F("total_images"))
                & Q(ingested_images__lte=models.F("total_images"))
                & Q(synced_images__lte=models.F("total_images")),
                name="orders_counters_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.order_ref

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The e-mail's hash is saved with the e-mail, also by saves that name their fields.
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "customer_email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "customer_email_hash"}
        if update_fields is not None and not tallies.FIELDS & set(update_fields):
            super().save(*args, **kwargs)
            return
        # The dashboard's counters (orders.tallies) follow, in the same transaction: the key
        # as stored before (none for a new order) and as saved.
        with transaction.atomic():
            old = []
            if not self._state.adding and self.pk is not None:
                old = list(
                    Order.objects.filter(pk=self.pk).values_list(
                        "status", "created_by_id", "assigned_to_id"
                    )
                )
            super().save(*args, **kwargs)
            tallies.record(old, [self.tally_key()])

    def tally_key(self) -> tallies.Key:
        """What the dashboard's counters of this order depend on (orders.tallies)."""
        return (self.status, self.created_by_id, self.assigned_to_id)

    @classmethod
    def can_move(cls, current: str, new: str) -> bool:
        return new in cls.TRANSITIONS.get(current, frozenset())

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED

    def images_refused_because(self) -> str:
        """Why no image can be added now, as a sentence; "" when images are welcome.

        Closed orders are final. An order whose AI step is done has been handed to
        the PMR delivery with the images it had: a later image would be processed
        but never delivered, so it belongs in a new order.
        """
        if self.is_closed:
            return (
                f"Order {self.order_ref} is {self.get_status_display().lower()}; "
                "no more images can be added."
            )
        if self.ai_processed:
            return (
                f"Order {self.order_ref} has been handed to the PMR delivery; no more images "
                "can be added. Create a new order for more images."
            )
        if self.status == OrderStatus.AWAITING_APPROVAL:
            return (
                f"Order {self.order_ref} is awaiting approval of its results; no more images "
                "can be added. Create a new order for more images."
            )
        return ""


def original_upload_path(instance: Image, filename: str) -> str:
    """Server-made storage name: never the client's filename in a path."""
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    safe_suffix = suffix if suffix[1:].isalnum() else ""
    return f"originals/{instance.order_id}/{uuid.uuid4().hex}{safe_suffix}"


def rendition_upload_path(instance: Image, filename: str) -> str:
    """Previews and thumbnails: server-made names beside nothing of the client's."""
    return f"renditions/{instance.order_id}/{uuid.uuid4().hex}.jpg"


class Image(models.Model):
    Status = ImageStatus
    S = ImageStatus
    ReviewReason = ReviewReason
    TRANSITIONS: dict[str, frozenset[str]] = {
        S.UPLOADED: frozenset({S.INGESTED, S.REJECTED, S.FAILED}),
        S.INGESTED: frozenset({S.ANALYZED, S.PROCESSED, S.NEEDS_REVIEW, S.FAILED}),
        S.ANALYZED: frozenset({S.PROCESSED, S.NEEDS_REVIEW, S.FAILED}),
        # Reprocessing (another preset) sends a processed, not yet delivered image back to AI.
        S.PROCESSED: frozenset({S.SYNCED, S.NEEDS_REVIEW, S.FAILED, S.INGESTED}),
        # A reviewer approves, sends back for another pass, or rejects.
        S.NEEDS_REVIEW: frozenset({S.INGESTED, S.ANALYZED, S.PROCESSED, S.REJECTED}),
        # A retry resumes from the last step that had succeeded; or a person leaves the image
        # out of the delivery (rejected: it no longer holds its order back).
        S.FAILED: frozenset({S.UPLOADED, S.INGESTED, S.ANALYZED, S.PROCESSED, S.REJECTED}),
        S.SYNCED: frozenset(),
        S.REJECTED: frozenset(),
    }
    #: Statuses of an image that passed ingest and is still in the work (failed
    #: ones are counted apart: a failure may have happened during ingest itself).
    PAST_INGEST = frozenset({S.INGESTED, S.ANALYZED, S.PROCESSED, S.SYNCED, S.NEEDS_REVIEW})
    #: Statuses of an image some worker still has to take further (ingest or AI).
    IN_WORK = frozenset({S.UPLOADED, S.INGESTED, S.ANALYZED})
    #: Every stored file of an image: the client's original and the renditions made from it.
    #: Every cleanup (deleting an order, rejecting an image, a step's leftovers) goes through
    #: ``stored_files()``, so a rendition added here is deleted everywhere.
    FILE_FIELDS = ("original", "preview", "thumbnail", "processed")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="images")
    original = models.FileField(upload_to=original_upload_path, max_length=255)
    original_filename = models.CharField(
        max_length=255, help_text="The name the file had on the client; for display only."
    )
    #: ``orders.natural.natural_key(original_filename)``, set on save: the grid shows an order's
    #: images in their names' natural order (IMG_2 before IMG_10) and pages by (key, id).
    name_key = models.CharField(
        "name sort key", max_length=1536, blank=True, default="", editable=False
    )
    file_size = models.PositiveBigIntegerField(default=0)
    mime_type = models.CharField("MIME type", max_length=50, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField("SHA-256", max_length=64, blank=True, db_index=True)
    phash = models.CharField(
        "perceptual hash",
        max_length=16,
        blank=True,
        db_index=True,
        help_text="64-bit perceptual hash (hex) of the upright image, for near-duplicates.",
    )
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The image in the same order or event this one repeats or nearly repeats.",
    )
    preview = models.FileField(upload_to=rendition_upload_path, max_length=255, blank=True)
    thumbnail = models.FileField(upload_to=rendition_upload_path, max_length=255, blank=True)
    ingested_at = models.DateTimeField(null=True, blank=True)
    processed = models.FileField(
        upload_to=rendition_upload_path,
        max_length=255,
        blank=True,
        help_text="The AI-processed version delivered to the PMR (JPEG).",
    )
    ai_cost = models.DecimalField(
        "AI cost (USD)", max_digits=10, decimal_places=6, default=0, editable=False
    )
    status = models.CharField(
        max_length=20, choices=ImageStatus.choices, default=ImageStatus.UPLOADED
    )
    status_reason = models.TextField(
        blank=True, help_text="Why the image is rejected, failed or waiting for review."
    )
    review_reason = models.CharField(
        max_length=20,
        choices=ReviewReason.choices,
        blank=True,
        help_text="While the image waits for review: the category of its reason (else empty).",
    )
    ai_analyzed = models.BooleanField("AI analyzed", default=False)
    ai_metadata = models.JSONField("AI metadata", default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="EXIF and ingest facts.")
    pmr_url = models.URLField("PMR URL", max_length=500, blank=True)
    #: Who approved the processed file as it is now (a hold for approval: docs/approval.md);
    #: cleared whenever the image leaves ``processed`` other than to the PMR.
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text="Empty with a date: approved by itself after the waiting time.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["order", "id"]
        indexes = [
            models.Index(fields=["order", "status"], name="images_order_status_idx"),
            models.Index(fields=["status", "updated_at"], name="images_status_updated_idx"),
            models.Index(fields=["order", "name_key", "id"], name="images_order_name_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImageStatus.values), name="images_status_valid"
            ),
            # The same bytes are stored once per order; a repeat is flagged, not kept.
            models.UniqueConstraint(
                fields=["order", "sha256"],
                condition=~Q(sha256="") & ~Q(status="rejected"),
                name="images_unique_sha256_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.order_id})"

    def save(self, *args, **kwargs) -> None:
        """Keep ``name_key`` in step with ``original_filename`` (the grid sorts by it)."""
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "original_filename" in update_fields:
            self.name_key = natural_key(self.original_filename)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    @classmethod
    def can_move(cls, current: str, new: str) -> bool:
        return new in cls.TRANSITIONS.get(current, frozenset())

    def stored_files(self) -> list[str]:
        """The storage names of every file this row holds (empty fields left out)."""
        return [name for field in self.FILE_FIELDS if (name := getattr(self, field).name)]


class OrderStatusTally(models.Model):
    """One change of the dashboard's order counters: ``delta`` orders of ``status`` in
    ``scope`` (0: every order; a user's id: the orders that user created or is assigned to).
    Appended by every write of an order's status or people, summed by the dashboard, folded
    into one row per scope and status by beat (``orders.tallies``)."""

    scope = models.BigIntegerField()
    status = models.CharField(max_length=20, choices=OrderStatus.choices)
    delta = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["scope", "status"], name="orders_tally_scope_status_idx")]

    def __str__(self) -> str:
        return f"{self.scope}/{self.status}: {self.delta:+d}"


class OrderEvent(models.Model):
    """One entry of an order's timeline, numbered per order.

    The numbering (``seq``) is what live views resume from after a reconnect:
    "give me everything after 41" has neither gaps nor repeats.
    """

    class Kind:
        ORDER_CREATED = "order.created"
        ORDER_UPDATED = "order.updated"
        ORDER_STATUS = "order.status_changed"
        ORDER_ASSIGNED = "order.assigned"
        IMAGE_ADDED = "image.added"
        IMAGE_STATUS = "image.status_changed"
        #: Several images of the order made the same move at once (the PMR confirming a
        #: batch of uploads): ``{images: [ids], count, from, to, reason}`` and the counters.
        IMAGES_STATUS = "images.status_changed"
        #: Staff (or the sweep) queued an image's stuck step again: ``{image, step}``.
        IMAGE_REQUEUED = "image.requeued"
        #: The order stopped short of completion because images failed: ``{status, reason,
        #: failed: [{image, filename, reason}], review}``; it waits in needs_review or failed.
        ORDER_STOPPED_SHORT = "order.stopped_short"
        #: A person chose to deliver the order without its failed images: ``{left_out: […]}``.
        ORDER_PARTIAL_DELIVERY = "order.partial_delivery"
        #: The sending system said every file is in: ``{images, expected}``.
        ORDER_SUBMITTED = "order.submitted"
        #: An order waiting for its client's submit has had no news for ``ORDER_SUBMIT_IDLE_HOURS``.
        ORDER_SUBMIT_OVERDUE = "order.submit_overdue"
        #: What was ordered changed: ``{lines: [{size, label, quantity}]}`` (docs/prints.md).
        ORDER_PRINTS = "order.prints_changed"
        #: An image's own print lines: ``{image, lines: […]}``; ``lines`` empty = its order's.
        IMAGE_PRINTS = "image.prints_changed"
        #: A person moved (or reset) an image's crop for a size: ``{image, size, label,
        #: basis, dpi}``.
        IMAGE_CROP = "image.crop_changed"
        #: Every image of an order awaiting approval is approved: ``{images, auto}``; the
        #: order goes on to the PMR (``auto``: the waiting time passed with no objection).
        ORDER_APPROVED = "order.approved"
        #: One image approved: ``{image}``.
        IMAGE_APPROVED = "image.approved"
        #: The customer's personal data and the order's files were erased (``orders.privacy``):
        #: ``{reason: "retention" | "request", files, bytes}``.
        ORDER_ERASED = "order.personal_data_erased"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="timeline")
    seq = models.PositiveIntegerField("sequence number")
    kind = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrderEventQuerySet.as_manager()

    class Meta:
        ordering = ["order", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["order", "seq"], name="order_events_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}#{self.seq} {self.kind}"


class Upload(models.Model):
    """A resumable upload of one file (tus-style: create, then append at an offset).

    The bytes collect as chunks in the media storage under ``uploads/<uuid>/``; when the
    last byte arrives the file becomes an ``Image`` through ``orders.intake``.
    A dropped connection loses nothing: the client asks for the offset and
    sends the rest.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Receiving"
        COMPLETE = "complete", "Complete"
        ABORTED = "aborted", "Aborted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="uploads")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    filename = models.CharField(max_length=255, help_text="Client's name; for display only.")
    size = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    image = models.OneToOneField(
        Image, on_delete=models.SET_NULL, null=True, blank=True, related_name="upload"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "updated_at"], name="uploads_status_updated_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(offset__lte=models.F("size")), name="uploads_offset_within_size"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.offset}/{self.size})"

    @property
    def part_folder(self) -> str:
        """The storage folder where the chunks collect; named by the row's UUID, never the
        client's name (``orders.uploads``)."""
        return f"uploads/{self.pk.hex}"


class PrintSize(models.Model):
    """A size the studio sells (4×6, 8×10, …, or "digital": a file, no print); admin-managed.

    Sizes are given as the print lab names them (short side × long side, inches); the
    orientation of each crop follows its photo (``orders.crops``), so one 4×6 serves
    portraits and landscapes. A size without inches is not a print: no crop, no DPI check.
    """

    code = models.SlugField(max_length=20, unique=True, help_text='e.g. "4x6"; used by the API.')
    label = models.CharField(max_length=40, help_text='How people read it, e.g. "4×6".')
    width_in = models.DecimalField(
        "short side (inches)", max_digits=5, decimal_places=2, null=True, blank=True
    )
    height_in = models.DecimalField(
        "long side (inches)", max_digits=5, decimal_places=2, null=True, blank=True
    )
    active = models.BooleanField(
        default=True, help_text="Only active sizes can be newly ordered; old orders keep theirs."
    )
    position = models.PositiveSmallIntegerField("order in lists", default=0)

    class Meta:
        ordering = ["position", "code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(width_in__isnull=True) & Q(height_in__isnull=True))
                | (Q(width_in__gt=0) & Q(height_in__gt=0)),
                name="print_sizes_both_sides_or_none",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_physical(self) -> bool:
        """A print (has inches), not a digital file."""
        return self.width_in is not None and self.height_in is not None

    def inches(self) -> tuple[float, float]:
        """(short side, long side) in inches; only for physical sizes."""
        a, b = float(self.width_in), float(self.height_in)
        return (min(a, b), max(a, b))


class OrderPrintQuerySet(RestrictedQuerySet):
    order_path = "order__"


class ImagePrintQuerySet(RestrictedQuerySet):
    order_path = "image__order__"


class OrderPrint(models.Model):
    """One line of what an order's customer bought: a size and how many of each image."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="print_lines")
    size = models.ForeignKey(PrintSize, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveSmallIntegerField(default=1)

    objects = OrderPrintQuerySet.as_manager()

    class Meta:
        ordering = ["order", "size__position", "size__code"]
        constraints = [
            models.UniqueConstraint(fields=["order", "size"], name="order_prints_one_per_size"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_prints_quantity_min"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.size.code}"


class ImagePrint(models.Model):
    """An image's own print line; when an image has any, they replace its order's lines."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="print_lines")
    size = models.ForeignKey(PrintSize, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveSmallIntegerField(default=1)

    objects = ImagePrintQuerySet.as_manager()

    class Meta:
        ordering = ["image", "size__position", "size__code"]
        constraints = [
            models.UniqueConstraint(fields=["image", "size"], name="image_prints_one_per_size"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="image_prints_quantity_min"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.size.code}"


class PrintCrop(models.Model):
    """The part of an image printed at one size: a rectangle in normalised coordinates.

    Coordinates are fractions (0–1) of the upright picture, so one crop fits the
    original, the processed file and the preview alike. ``basis`` says how it was
    placed: around the faces the analysis found, in the centre, or by a person
    (a manual crop is never moved by the automatic placement again).
    """

    class Basis(models.TextChoices):
        FACES = "faces", "Around the faces"
        CENTRE = "centre", "Centred"
        MANUAL = "manual", "Set by hand"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="print_crops")
    size = models.ForeignKey(PrintSize, on_delete=models.CASCADE, related_name="+")
    x = models.FloatField()
    y = models.FloatField()
    width = models.FloatField()
    height = models.FloatField()
    basis = models.CharField(max_length=10, choices=Basis.choices)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ImagePrintQuerySet.as_manager()

    class Meta:
        ordering = ["image", "size__position", "size__code"]
        constraints = [
            models.UniqueConstraint(fields=["image", "size"], name="print_crops_one_per_size"),
            # A small tolerance: float fractions of odd pixel counts do not add up exactly.
            models.CheckConstraint(
                condition=Q(x__gte=0)
                & Q(y__gte=0)
                & Q(width__gt=0)
                & Q(height__gt=0)
                & Q(x__lte=1.0001 - models.F("width"))
                & Q(y__lte=1.0001 - models.F("height")),
                name="print_crops_inside_image",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.size.code} crop of image {self.image_id}"

    @property
    def manual(self) -> bool:
        return self.basis == self.Basis.MANUAL


# Counters and the timeline number are derived data: auditing them would write
# an entry per image step and bury the changes people make.
auditlog.register(
    Order,
    exclude_fields=[
        "last_event_seq",
        "updated_at",
        "total_images",
        "ingested_images",
        "processed_images",
        "synced_images",
        "rejected_images",
        "failed_images",
        "review_images",
        "ai_cost",
        "customer_email_hash",
    ],
    # Encrypted personal data: the log says that it changed, not what it was or became
    # (the log's JSON is not encrypted).
    mask_fields=["customer_name", "customer_email", "notes"],
    mask_callable="utilities.encrypted_fields.mask_for_audit",
)
auditlog.register(Image, exclude_fields=["updated_at", "name_key"])  # name_key: derived
auditlog.register(PrintSize)
auditlog.register(OrderPrint)
auditlog.register(ImagePrint)
auditlog.register(PrintCrop, exclude_fields=["updated_at"])
