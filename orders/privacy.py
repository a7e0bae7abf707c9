"""A customer's data: kept only as long as needed, handed over or erased on request.

One path erases an order's personal data, for both reasons it happens:

- **retention** (``apply_retention``, daily by beat and ``manage.py apply_retention``): an
  order completed (or cancelled) more than ``RETENTION_DAYS`` ago (its event's
  ``retention_days`` when set; 0 never) has nothing left to deliver;
- **the customer's request** (``erase_customer``, ``manage.py erase_customer`` and the order
  admin's action): every closed order of one e-mail address.

Erasing is anonymising, not deleting: a delivered order cannot be deleted (the PMR knows it,
``services.delete_order``) and the studio's statistics (counts, sizes, durations, AI costs)
need the rows. So the files go (originals, renditions, processed files, leftovers of killed
attempts, upload parts), the personal fields read ``[erased]`` (the e-mail address becomes
empty), EXIF and AI descriptions go, the timeline and the audit log keep what happened and
when but no name, address or note, ``erased_at`` is set (never erased twice) and the
timeline and the audit log say it happened. Apps above orders that keep personal data about
an order (the PMR outbox, the customer's e-mail) register a ``Holder`` here from their
``ready``, so this module never imports them.

``export_customer`` hands a customer everything about them: a ZIP with ``customer.json``
(their orders, images' facts, timelines, what the holders add) and their photos (originals
and processed files). Exports and erasures on request need the ``handle_customer_data``
permission (Admins) when a person asks, and are in the audit log with a keyed fingerprint of
the address, never the address itself (``email_fingerprint``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, When
from django.utils import timezone
from django.utils.crypto import salted_hmac

from events.models import Event
from utilities import access, media, zips
from utilities.audit import ERASED, Scrubber, record_access, record_unknown_access
from utilities.errors import OrderError

from . import bookkeeping, locking, services, timeline
from .models import Image, Order, OrderEvent
from .natural import natural_key

log = logging.getLogger(__name__)

Kind = OrderEvent.Kind

#: Why an order's data was erased (the timeline entry's and the audit entry's ``reason``).
RETENTION, REQUEST = "retention", "request"

#: Keys whose values are personal wherever they appear: the order's fields, in its audit
#: entries and in JSON (timeline payloads, PMR payloads).
ORDER_PERSONAL_FIELDS = ("customer_name", "customer_email", "notes", "metadata")
#: An image's: the client's file name, EXIF facts, AI descriptions of the people in it.
IMAGE_PERSONAL_FIELDS = ("original_filename", "metadata", "ai_metadata", "filename")
#: Keys of ``ai_metadata`` kept after erasure: the providers' trail (outcomes, costs), which
#: the analytics of fallbacks read; it names no person.
AI_METADATA_KEPT = ("trail",)


# --- what apps above orders hold ------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """Personal data an app above orders keeps about an order.

    ``erase(order, scrubber)`` runs in the erasing transaction, under the order's row lock,
    before the order's own fields are blanked; it erases the app's rows and their audit
    entries (``scrubber.audit``). ``export(order)`` returns what the customer's export
    carries under the holder's name (JSON-serializable), or nothing.
    """

    name: str
    erase: Callable[[Order, Scrubber], None]
    export: Callable[[Order], Any] | None = None


_holders: dict[str, Holder] = {}


def register(
    name: str,
    *,
    erase: Callable[[Order, Scrubber], None],
    export: Callable[[Order], Any] | None = None,
) -> None:
    """Add (or replace: apps' ``ready`` may run again in tests) a holder of personal data."""
    _holders[name] = Holder(name, erase, export)


# --- reports --------------------------------------------------------------------------------


@dataclass
class OrderErasure:
    """One order erased (or that would be, in a dry run)."""

    order_ref: str
    status: str
    closed_at: datetime | None
    files: int
    bytes: int


@dataclass
class ErasureReport:
    dry_run: bool
    erased: list[OrderErasure] = field(default_factory=list)
    #: (order reference, why it was left alone)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(e.files for e in self.erased)

    @property
    def bytes(self) -> int:
        return sum(e.bytes for e in self.erased)

    def lines(self) -> list[str]:
        """The report as people read it (commands print it, the task logs its totals)."""
        verb = "would be erased" if self.dry_run else "erased"
        out = [
            f"{e.order_ref}  {e.status:<9}  closed {_day(e.closed_at)}  "
            f"{e.files} file(s), {e.bytes} bytes"
            for e in self.erased
        ]
        out += [f"{ref}  left alone: {why}" for ref, why in self.skipped]
        out.append(
            f"{len(self.erased)} order(s) {verb}: {self.files} file(s), {self.bytes} bytes"
            + (" (dry run: nothing was changed)" if self.dry_run else "")
        )
        return out

    def summary(self) -> dict[str, int]:
        return {
            "orders": len(self.erased),
            "files": self.files,
            "bytes": self.bytes,
            "skipped": len(self.skipped),
        }


def _day(moment: datetime | None) -> str:
    return timezone.localtime(moment).date().isoformat() if moment else "unknown"


# --- who may, and how the log names the customer --------------------------------------------


def _require(actor: Any) -> None:
    """People need the permission; ``None`` (a command on the server, beat) may."""
    if actor is not None and not access.can_handle_customer_data(actor):
        raise PermissionDenied("You may not export or erase a customer's data.")


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def email_fingerprint(email: str) -> str:
    """What the audit log keeps of a customer's address: an HMAC keyed with ``SECRET_KEY``.

    Not the address: an erased customer's address must not stay in the log that records the
    erasure. Not a plain hash: addresses are guessable, and a SHA-256 of one is reversed by
    hashing candidates. Keyed, the log alone names nobody, yet the studio can still show that
    a given address was exported or erased (``erase_customer --dry-run`` prints it) for as long
    as the secret key is the same.
    """
    return salted_hmac(
        "orders.privacy.customer-email", normalise_email(email), algorithm="sha256"
    ).hexdigest()


# --- files --------------------------------------------------------------------------------


def _stored_files(order: Order, images: Iterable[Image]) -> list[str]:
    """Every stored file of the order: the images' files, files announced by attempts that
    never finished (``bookkeeping``), in that order, without repeats."""
    names: dict[str, None] = {}
    for image in images:
        for name in bookkeeping.FILE_FIELDS:
            stored = getattr(image, name).name
            if stored:
                names[stored] = None
        for data in (image.metadata, image.ai_metadata):
            announced = data.get(bookkeeping.FILES_IN_PROGRESS) if isinstance(data, dict) else None
            for stored in announced if isinstance(announced, list) else []:
                if isinstance(stored, str) and stored:
                    names[stored] = None
    return list(names)


def _sizes(names: Iterable[str]) -> tuple[int, int]:
    """(files present, their bytes) in the storage."""
    files = size = 0
    for name in names:
        try:
            size += media.size(default_storage, name)  # a lost object: FileNotFoundError
            files += 1
        except OSError:  # already gone (a rejected image's renditions, a lost disk)
            continue
    return files, size


def _upload_parts(order: Order) -> list[Any]:
    return [upload.part_folder for upload in order.uploads.all()]


def _delete_after_commit(names: list[str], parts: list[Any]) -> None:
    bookkeeping.delete_files_after_commit(names)

    def remove_parts() -> None:
        for folder in parts:
            try:
                media.delete_folder(default_storage, folder)
            except Exception:  # disk or object store: the rows are gone either way
                log.exception("Could not delete upload parts %s", folder)

    if parts:
        transaction.on_commit(remove_parts)


# --- which orders are due -------------------------------------------------------------------


def with_closed_at(orders: QuerySet[Order]) -> QuerySet[Order]:
    """Annotate ``closed_at``: when a completed order completed, when a cancelled one was
    cancelled (its timeline's status entry: ``completed_at`` is only set on completion)."""
    cancelled_at = (
        OrderEvent.objects.filter(
            order=OuterRef("pk"), kind=Kind.ORDER_STATUS, payload__to=Order.Status.CANCELLED
        )
        .order_by("-seq")
        .values("created_at")[:1]
    )
    return orders.annotate(
        closed_at=Case(
            When(status=Order.Status.COMPLETED, then=F("completed_at")),
            When(status=Order.Status.CANCELLED, then=Subquery(cancelled_at)),
            default=None,
        )
    )


def expired_orders(now: datetime | None = None) -> QuerySet[Order]:
    """Closed orders not erased yet whose retention period ended: ``RETENTION_DAYS`` after
    they closed, or their event's ``retention_days``; 0 (either) keeps them."""
    now = now or timezone.now()
    default_days = settings.RETENTION_DAYS
    due = Q(pk__in=[])
    if default_days > 0:
        cutoff = now - timedelta(days=default_days)
        due |= Q(event__retention_days__isnull=True, closed_at__lt=cutoff)
    event_days = (
        Event.objects.filter(retention_days__gt=0)
        .values_list("retention_days", flat=True)
        .distinct()
    )
    for days in event_days:
        due |= Q(event__retention_days=days, closed_at__lt=now - timedelta(days=days))
    closed = Order.objects.filter(status__in=Order.CLOSED, erased_at__isnull=True)
    return with_closed_at(closed).filter(due).order_by("closed_at", "pk")


# --- erasing one order ------------------------------------------------------------------------


def _kept_ai_metadata(data: Any) -> dict:
    return {k: data[k] for k in AI_METADATA_KEPT if k in data} if isinstance(data, dict) else {}


def _scrubber(order: Order) -> Scrubber:
    """The order's customer's own strings: found and replaced wherever they were copied."""
    return Scrubber([order.customer_name, order.customer_email])


def erase_order(
    order: Order,
    *,
    reason: str,
    actor: Any = None,
    request: Any = None,
    customer: str = "",
    **audit_data: Any,
) -> OrderErasure | None:
    """Erase one closed order's personal data and files; None when it already was.

    One transaction under the order's row lock; the files are deleted after it commits (a
    rolled-back erasure leaves them). Rows are written with ``update`` so that auditlog does
    not copy the values being erased into a new entry; the erasure is one access entry of its
    own (``erased_personal_data``, with ``reason``, ``customer`` = the address's fingerprint
    for a request, and ``audit_data``). Refused (``OrderError``) for an order still in work:
    its files are in use, and it may still be delivered.
    """
    _require(actor)
    with transaction.atomic():
        try:
            locked = locking.lock_order(order.pk)
        except Order.DoesNotExist:  # deleted meanwhile: nothing left to erase
            return None
        if locked.erased_at is not None:
            return None
        closed_at = (
            with_closed_at(Order.objects.filter(pk=locked.pk))
            .values_list("closed_at", flat=True)
            .first()
        )
        if not locked.is_closed:
            raise OrderError(
                f"Order {locked.order_ref} is {locked.get_status_display().lower()}; only a "
                "completed or cancelled order can be erased. Cancel it first."
            )
        scrubber = _scrubber(locked)
        images = list(Image.objects.filter(order_id=locked.pk).order_by("pk"))
        names = _stored_files(locked, images)
        parts = _upload_parts(locked)
        files, size = _sizes(names)
        now = timezone.now()

        for holder in _holders.values():
            holder.erase(locked, scrubber)
        for image in images:
            Image.objects.filter(pk=image.pk).update(
                original="",
                preview="",
                thumbnail="",
                processed="",
                original_filename=ERASED,
                name_key=natural_key(ERASED),
                metadata={},
                ai_metadata=_kept_ai_metadata(image.ai_metadata),
                phash="",
                status_reason=scrubber.text(image.status_reason),
                updated_at=now,
            )
        locked.uploads.update(filename=ERASED)
        personal = (*ORDER_PERSONAL_FIELDS, *IMAGE_PERSONAL_FIELDS)
        for entry in OrderEvent.objects.filter(order_id=locked.pk).only("id", "payload"):
            payload = scrubber.json(entry.payload, personal)
            if payload != entry.payload:
                OrderEvent.objects.filter(pk=entry.pk).update(payload=payload)
        Order.objects.filter(pk=locked.pk).update(
            customer_name=ERASED,
            customer_email="",
            notes=ERASED if locked.notes else "",
            metadata={},
            erased_at=now,
            updated_at=now,
        )
        scrubber.audit(Order, [locked.pk], fields=ORDER_PERSONAL_FIELDS)
        scrubber.audit(
            Image,
            [image.pk for image in images],
            fields=IMAGE_PERSONAL_FIELDS,
            object_repr=f"{ERASED} ({locked.pk})",  # str() of an erased image
        )
        payload = {"reason": reason, "files": files, "bytes": size}
        services.record_event(locked, Kind.ORDER_ERASED, payload, actor)
        extra = {"customer": customer} if customer else {}
        record_access(
            locked,
            "erased_personal_data",
            actor=actor,
            request=request,
            **payload,
            **extra,
            **audit_data,
        )
        _delete_after_commit(names, parts)
    order.erased_at = now
    return OrderErasure(locked.order_ref, locked.status, closed_at, files, size)


def _would_erase(order: Order) -> OrderErasure:
    images = list(Image.objects.filter(order_id=order.pk))
    files, size = _sizes(_stored_files(order, images))
    return OrderErasure(
        order.order_ref, order.status, getattr(order, "closed_at", None), files, size
    )


# --- retention ------------------------------------------------------------------------------


def apply_retention(*, dry_run: bool = False, now: datetime | None = None) -> ErasureReport:
    """Erase every order whose retention period ended (``expired_orders``); one transaction
    per order, so a failure leaves the others erased and is retried by the next run."""
    report = ErasureReport(dry_run=dry_run)
    for order in list(expired_orders(now)):  # read first: each erasure commits on its own
        if dry_run:
            report.erased.append(_would_erase(order))
            continue
        try:
            done = erase_order(order, reason=RETENTION)
        except OrderError as exc:  # reopened meanwhile: not closed any more
            report.skipped.append((order.order_ref, str(exc)))
            continue
        if done is not None:
            report.erased.append(done)
    return report


# --- one customer's data --------------------------------------------------------------------


def customer_orders(email: str) -> QuerySet[Order]:
    """Every order of the address (the one lookup by address: ``for_customer_email``)."""
    return with_closed_at(Order.objects.for_customer_email(normalise_email(email))).order_by(
        "created_at", "pk"
    )


def erase_customer(
    email: str,
    *,
    actor: Any = None,
    request: Any = None,
    dry_run: bool = False,
    **audit_data: Any,
) -> ErasureReport:
    """Erase every closed order of the address (delivered ones too); orders still in work
    are left alone with the reason (cancel them, then erase again). Audited per order with
    the address's fingerprint; a request that finds nothing to erase is audited too."""
    _require(actor)
    email = normalise_email(email)
    if not email:
        raise OrderError("Give the customer's e-mail address.")
    fingerprint = email_fingerprint(email)
    report = ErasureReport(dry_run=dry_run)
    for order in customer_orders(email):
        if order.erased_at is not None:
            continue
        if not order.is_closed:
            report.skipped.append(
                (
                    order.order_ref,
                    f"{order.get_status_display().lower()}: cancel it (or let it complete), "
                    "then erase again",
                )
            )
            continue
        if dry_run:
            report.erased.append(_would_erase(order))
            continue
        done = erase_order(
            order,
            reason=REQUEST,
            actor=actor,
            request=request,
            customer=fingerprint,
            **audit_data,
        )
        if done is not None:
            report.erased.append(done)
    if not dry_run and not report.erased:
        record_unknown_access(
            Order,
            f"customer {fingerprint[:12]}",
            "erased_personal_data",
            request=request,
            reason=REQUEST,
            customer=fingerprint,
            actor=actor,
            orders=0,
            **audit_data,
        )
    return report


@dataclass
class ExportSummary:
    orders: list[str]
    files: int
    bytes: int


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def _image_json(image: Image, files: dict[str, str]) -> dict[str, Any]:
    return {
        "id": image.pk,
        "original_filename": image.original_filename,
        "file_size": image.file_size,
        "mime_type": image.mime_type,
        "width": image.width,
        "height": image.height,
        "sha256": image.sha256,
        "status": image.status,
        "status_reason": image.status_reason,
        "metadata": image.metadata,
        "ai_metadata": image.ai_metadata,
        "created_at": _iso(image.created_at),
        "files": files,
    }


def _order_json(order: Order) -> dict[str, Any]:
    event = order.event
    return {
        "order_ref": order.order_ref,
        "event": {"event_id": event.event_id, "name": event.name, "date": _iso(event.date)},
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "order_date": _iso(order.order_date),
        "status": order.status,
        "notes": order.notes,
        "metadata": order.metadata,
        "prints": [
            {"size": line.size.code, "label": line.size.label, "quantity": line.quantity}
            for line in order.print_lines.select_related("size")
        ],
        "created_at": _iso(order.created_at),
        "completed_at": _iso(order.completed_at),
        "erased_at": _iso(order.erased_at),
    }


def _timeline_json(order: Order) -> list[dict[str, Any]]:
    entries = timeline.describe(list(OrderEvent.objects.filter(order_id=order.pk)))
    return [
        {
            "seq": e.seq,
            "at": _iso(e.created_at),
            "kind": e.kind,
            "text": e.text,
            "payload": e.payload,
        }
        for e in entries
    ]


#: The files of an image a customer gets: their photo as received and the studio's result
#: (previews and thumbnails are smaller copies of the same picture).
EXPORTED_FILES = ("original", "processed")


def export_customer(
    email: str, out: BinaryIO, *, actor: Any = None, request: Any = None, **audit_data: Any
) -> ExportSummary:
    """Write everything about the address into ``out`` as a ZIP: ``customer.json`` and
    ``orders/<ref>/images/<id>/<original|processed><suffix>``. Nothing of another customer:
    only ``for_customer_email``'s orders are read. Audited per order (``exported_customer_data``
    with the address's fingerprint), or once with no order when there is none."""
    _require(actor)
    email = normalise_email(email)
    if not email:
        raise OrderError("Give the customer's e-mail address.")
    fingerprint = email_fingerprint(email)
    orders = list(customer_orders(email).select_related("event"))
    summary = ExportSummary(orders=[o.order_ref for o in orders], files=0, bytes=0)
    document: dict[str, Any] = {
        "customer_email": email,
        "exported_at": timezone.now().isoformat(),
        "orders": [],
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for order in orders:
            data = _order_json(order)
            images = []
            for image in Image.objects.filter(order_id=order.pk).order_by("pk"):
                files = {}
                for name in EXPORTED_FILES:
                    stored = getattr(image, name)
                    if not stored:
                        continue
                    suffix = PurePosixPath(stored.name).suffix.lower()
                    path = f"orders/{order.order_ref}/images/{image.pk}/{name}{suffix}"
                    try:
                        stream = media.open_stream(stored.storage, stored.name)
                        with contextlib.closing(stream) as source:
                            _, size = zips.copy_into(archive, path, source)
                    except OSError:  # the row names a file the storage lost: say so
                        files[name] = "missing"
                        continue
                    files[name] = path
                    summary.files += 1
                    summary.bytes += size
                images.append(_image_json(image, files))
            data["images"] = images
            data["timeline"] = _timeline_json(order)
            for holder in _holders.values():
                if holder.export is not None:
                    extra = holder.export(order)
                    if extra:
                        data[holder.name] = extra
            document["orders"].append(data)
        archive.writestr(
            zipfile.ZipInfo("customer.json", date_time=timezone.now().timetuple()[:6]),
            json.dumps(document, indent=2, default=str),
            compress_type=zipfile.ZIP_DEFLATED,
        )
    for order in orders:
        record_access(
            order,
            "exported_customer_data",
            actor=actor,
            request=request,
            customer=fingerprint,
            **audit_data,
        )
    if not orders:
        record_unknown_access(
            Order,
            f"customer {fingerprint[:12]}",
            "exported_customer_data",
            request=request,
            customer=fingerprint,
            actor=actor,
            orders=0,
            **audit_data,
        )
    return summary
