"""Intake: every write that brings an image into an order.

``add_image`` stores one file under a server-made name and queues its ingest;
``ingest_image`` (run by the ``ingest`` queue) validates and measures it.
Pages, the upload endpoint, the API and the folder import all call these, so
a file is treated the same whichever door it came through.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.utils import timezone

from utilities import access, durations, media
from utilities.errors import OrderError
from utilities.infrastructure import TRANSIENT, CommitWatch, queue_after_commit
from utilities.leases import Claim, exclusive
from utilities.redis_clients import shared

from . import bookkeeping, imaging, locking, pipeline, services, tasks
from .models import Image, Order, OrderEvent, rendition_upload_path

log = logging.getLogger(__name__)
Kind = OrderEvent.Kind

COPY_CHUNK = 1024 * 1024


def display_name(filename: str) -> str:
    """The client's file name reduced to something safe to show: no folders, bounded length.

    It is never used in a storage path; this only keeps the display sane.
    """
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")
    name = "".join(ch for ch in name if ch.isprintable()) or "unnamed"
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 250 - len(ext)] + "…" + dot + ext) if dot and len(ext) <= 10 else name[:255]
    return name


def _spool(source: BinaryIO | Path) -> tuple[tempfile.SpooledTemporaryFile, int, str]:
    """Copy the source once, hashing as it goes, refusing oversize files early."""
    limit = settings.INGEST_MAX_FILE_BYTES
    digest = hashlib.sha256()
    size = 0
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    handle = open(source, "rb") if isinstance(source, Path) else source  # noqa: SIM115
    try:
        while chunk := handle.read(COPY_CHUNK):
            size += len(chunk)
            if size > limit:
                raise _TooLarge(size)
            digest.update(chunk)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    finally:
        if isinstance(source, Path):
            handle.close()
    spool.seek(0)
    return spool, size, digest.hexdigest()


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def _rejected(order: Order, name: str, reason: str, actor: Any, **fields: Any) -> Image:
    """Keep a row for a refused file, so the user sees why, but store no bytes."""
    image = Image.objects.create(
        order=order,
        original_filename=name,
        status=Image.Status.REJECTED,
        status_reason=reason,
        **fields,
    )
    services.refresh_image_counters(order.pk)
    services.record_event(
        order,
        Kind.IMAGE_STATUS,
        {"image": image.pk, "from": None, "to": image.status, "reason": reason},
        actor,
    )
    return image


def add_image(order: Order, *, source: BinaryIO | Path, filename: str, actor: Any = None) -> Image:
    """Store one file for ``order`` and queue its ingest.

    Returns the new ``Image``: ``uploaded`` (ingest queued), or ``rejected``
    with a reason and no stored bytes when the file is empty, too large or an
    exact repeat of a file already in the order. Raises ``PermissionDenied``
    when the actor may not upload to the order, ``OrderError`` when the order
    is closed.
    """
    if actor is not None and not access.can(actor, access.Action.UPLOAD, order):
        raise PermissionDenied(f"You may not add images to order {order.order_ref}.")
    name = display_name(filename)
    try:
        spool, size, sha256 = _spool(source)
    except _TooLarge as exc:
        with transaction.atomic():
            _lock_open_order(order)
            return _rejected(
                order,
                name,
                f"File is larger than the {_mb(settings.INGEST_MAX_FILE_BYTES)} limit.",
                actor,
                file_size=exc.size,
            )
    stored: str | None = None
    watch: CommitWatch | None = None
    try:
        with spool, transaction.atomic():
            watch = CommitWatch()
            # The order row lock serialises intake per order, so the duplicate
            # check below cannot race another upload of the same bytes.
            locked = _lock_open_order(order)
            if size == 0:
                return _rejected(locked, name, "File is empty (0 bytes).", actor)
            existing = (
                Image.objects.filter(order=locked, sha256=sha256)
                .exclude(status=Image.Status.REJECTED)
                .first()
            )
            if existing is not None:
                return _rejected(
                    locked,
                    name,
                    f"Exact duplicate of {existing.original_filename}; stored once.",
                    actor,
                    file_size=size,
                    sha256=sha256,
                    duplicate_of=existing,
                )
            image = Image(
                order=locked,
                original_filename=name,
                file_size=size,
                sha256=sha256,
                status=Image.Status.UPLOADED,
            )
            image.original.save("upload" + Path(name).suffix, File(spool), save=False)
            stored = image.original.name
            image.save()
            if locked.status in (Order.Status.DRAFT, Order.Status.FAILED):
                services.change_order_status(locked, Order.Status.PENDING, reason="images arriving")
            services.refresh_image_counters(locked.pk)
            services.record_event(
                locked,
                Kind.IMAGE_ADDED,
                {"image": image.pk, "filename": name, "size": size},
                actor,
            )
            _queue_ingest_after_commit(image.pk)
    except BaseException:
        # Never leave bytes behind for a row that was not written; and never delete the
        # bytes of a row that was (a hook after the commit may fail: the row stands).
        if stored and not (watch is not None and watch.committed):
            default_storage.delete(stored)
        raise
    return image


def _lock_open_order(order: Order) -> Order:
    locked = locking.lock_order(order.pk)
    refused = locked.images_refused_because()
    if refused:
        raise OrderError(refused)
    return locked


def _queue_ingest(image_id: int) -> None:
    tasks.ingest_image.delay(image_id)


def _queue_ingest_after_commit(image_id: int) -> None:
    queue_after_commit(lambda: _queue_ingest(image_id), f"the ingest of image {image_id}")


# --- ingest -------------------------------------------------------------------

#: Ingest runs on one image before it is marked failed. A file that kills its
#: worker (out of memory, a decoder crash) is redelivered by Celery (late acks)
#: or queued again by the sweep; counting attempts in the database is what stops
#: that from looping forever.
MAX_INGEST_ATTEMPTS = 3
#: ``Image.metadata`` key: rendition files an ingest attempt is about to write, committed
#: before it writes them, so the next attempt (or the verdict) deletes what a killed one
#: left behind: no file in MEDIA_ROOT without a row that names it.
FILES_IN_PROGRESS = bookkeeping.FILES_IN_PROGRESS

S = Image.Status
#: Ingest's bookkeeping in ``Image.metadata`` (attempts, announced files, failing).
INGEST = bookkeeping.Step("ingest", "metadata", "ingest_attempts", frozenset({S.UPLOADED}))


def lease_key(image_id: int) -> str:
    """The Redis lease an image's ingest holds while it runs (the sweep checks it)."""
    return f"rkh:ingest:image:{image_id}"


#: The images an ingest holds a lease on; a worker killed mid-ingest leaves its image here
#: (``utilities.leases.Claim``): ``sweep.requeue_orphans`` queues it again.
CLAIMS_KEY = "rkh:ingest:claims"


def ingest_image(image_id: int) -> Image:
    """Validate, measure, describe and preview one uploaded image; flag near-duplicates.

    The image ends ``ingested``; ``needs_review`` when it looks like another
    image of the same event (``duplicate_of`` points to it); ``rejected`` with
    the reason when the file is not an accepted photo (its stored bytes are
    deleted, the row stays); or ``failed`` on an unexpected error (the original
    is kept for a retry). When no image of the order is left to ingest and at
    least one was accepted, the order moves from pending to processing.

    Idempotent: an image that is no longer ``uploaded`` is returned untouched, and
    while one delivery works on an image (a renewed Redis lease) a second one steps
    aside. Raises ``Image.DoesNotExist`` when the image (or its order) was deleted,
    and outages of the database or Redis (``utilities.infrastructure.TRANSIENT``: the
    task retries them; they are never the image's fault).
    """
    image = Image.objects.select_related("order").get(pk=image_id)
    if image.status != S.UPLOADED:
        return image
    with exclusive(
        shared(),
        lease_key(image_id),
        settings.INGEST_LEASE_SECONDS,
        renew=True,
        claim=Claim(CLAIMS_KEY, str(image_id)),
    ) as held:
        if not held:  # another delivery (a redelivered message, the sweep's) has it now
            log.info("Image %s is being ingested by another task; skipped", image_id)
            return image
        started = time.perf_counter()
        image = _ingest_held(image)
        # Only ingests that ran (not a delivery that stepped aside, not an outage that
        # retries): how long a file takes from the start of its ingest to its verdict.
        durations.observe("ingest", time.perf_counter() - started, outcome=image.status)
        return image


def _ingest_held(image: Image) -> Image:
    image_id = image.pk
    attempts = INGEST.count_attempt(image_id)
    if attempts is None:  # another worker finished it meanwhile
        return Image.objects.get(pk=image_id)
    if attempts > MAX_INGEST_ATTEMPTS:
        return _fail(
            image,
            f"Ingest stopped after {MAX_INGEST_ATTEMPTS} attempts: processing this file kept "
            "failing. Staff can retry it.",
            detail="attempts exhausted (worker lost while ingesting?)",
        )
    try:
        with _stored_original(image) as path:
            processed = imaging.process(
                path,
                max_pixels=settings.INGEST_MAX_PIXELS,
                strip_gps=settings.INGEST_STRIP_GPS,
                preview_size=settings.PREVIEW_SIZE,
                thumbnail_size=settings.THUMBNAIL_SIZE,
                expected_sha256=image.sha256 or None,
            )
    except imaging.ChecksumMismatch as exc:
        return _fail(
            image,
            "The stored file no longer matches the uploaded one (a storage fault); "
            "please upload it again.",
            detail=str(exc),
        )
    except imaging.ImageRejected as exc:
        log.info("Image %s rejected (%s): %s %s", image_id, exc.code, exc.reason, exc.detail)
        return _reject(image, exc)
    except _MissingOriginal:
        return _fail(image, "The stored file is missing; please upload it again.")
    except Exception as exc:
        log.exception("Ingest of image %s failed", image_id)
        return _fail(image, _internal_error(exc), detail=repr(exc)[:500])
    try:
        return _accept(image, processed)
    except (Image.DoesNotExist, DatabaseError, *TRANSIENT):
        raise  # deleted meanwhile, or the database or Redis is away: nothing to record now
    except Exception as exc:
        log.exception("Storing the ingest of image %s failed", image_id)
        return _fail(image, _internal_error(exc), detail=repr(exc)[:500])


def retry_ingest(image: Image, *, actor: Any = None) -> Image:
    """Send an image through ingest again: a failed ingest (failed -> uploaded), or one stuck
    in ``uploaded`` (its message lost or its worker killed), queued after commit.

    For the admin's and the pages' "retry" of an image that never passed
    ingest; an image that failed in a later step resumes from that step
    instead (``OrderError``), as does one that is not waiting for ingest. A stuck
    image's attempt count starts again (a person asked), and a failed order
    goes back to pending. Raises ``PermissionDenied`` when the actor may not
    process the order; a second queueing of an image being ingested steps aside.
    """
    with transaction.atomic():
        order, locked = locking.lock_image(image.pk, order_id=image.order_id)
        failed_in_ingest = locked.status == S.FAILED and locked.ingested_at is None
        if order.is_closed:
            raise OrderError(
                f"Order {order.order_ref} is {order.get_status_display().lower()}; "
                "its images can no longer be retried."
            )
        if not (failed_in_ingest or locked.status == S.UPLOADED):
            raise OrderError(
                f"Image {locked.original_filename} is not waiting for an ingest retry."
            )
        # A retried file joins the order like a new one: not into one whose delivery has
        # begun (it would be processed but never delivered).
        if order.ai_processed:
            raise OrderError(
                f"Order {order.order_ref} has been handed to the PMR delivery; "
                f"{locked.original_filename} can no longer join it. Add it to a new order."
            )
        if failed_in_ingest:
            if order.status == Order.Status.FAILED:
                services.change_order_status(
                    order, Order.Status.PENDING, actor=actor, reason="an image is retried"
                )
            services.change_image_status(image, S.UPLOADED, actor=actor, reason="ingest retried")
        else:
            services.access_check(actor, access.Action.PROCESS, order)
            metadata = {k: v for k, v in locked.metadata.items() if k != "ingest_attempts"}
            Image.objects.filter(pk=locked.pk).update(metadata=metadata)
            services.record_event(
                order, Kind.IMAGE_REQUEUED, {"image": locked.pk, "step": "ingest"}, actor
            )
        _queue_ingest_after_commit(image.pk)
    image.refresh_from_db()
    return image


class _MissingOriginal(Exception):
    pass


def _internal_error(exc: Exception) -> str:
    return (
        f"The file could not be processed because of an internal error ({type(exc).__name__}). "
        "Staff can retry it."
    )


@contextmanager
def _stored_original(image: Image) -> Iterator[Path]:
    """A local path of the stored original: the file itself, or a temporary copy.

    The imaging functions work on paths (libvips maps and seeks); storage
    without local paths (S3) is copied to a temporary file first.
    """
    name = image.original.name
    if not name:
        raise _MissingOriginal
    copy = media.local_path(image.original.storage, name, prefix="ingest-")
    try:
        path = copy.__enter__()
    except FileNotFoundError:
        raise _MissingOriginal from None
    with contextlib.ExitStack() as stack:
        stack.push(copy)
        yield path


def _accept(image: Image, processed: imaging.Processed) -> Image:
    """Store the renditions, then record the facts and the verdict in one transaction."""
    stored = _store_renditions(image, processed)
    watch: CommitWatch | None = None
    try:
        with transaction.atomic():
            watch = CommitWatch()
            # Event, order, image: the event lock serialises the near-duplicate check.
            order, locked = locking.lock_for_ingest(image)
            if locked.status != S.UPLOADED:  # a second delivery of the task got here first
                bookkeeping.delete_files_after_commit(stored)
                return locked
            match = _near_duplicate(locked, order.event_id, processed.phash)
            metadata, _announced = INGEST.settle(locked)
            metadata.update(processed.metadata())
            if match is not None:
                metadata["near_duplicate"] = {"image": match[0].pk, "distance": match[1]}
            Image.objects.filter(pk=locked.pk).update(
                width=processed.width,
                height=processed.height,
                mime_type=processed.mime_type,
                file_size=processed.file_size,
                sha256=processed.sha256,
                phash=processed.phash.upright,
                preview=stored[0],
                thumbnail=stored[1],
                duplicate_of=match[0] if match else None,
                ingested_at=timezone.now(),
                metadata=metadata,
            )
            services.change_image_status(locked, S.INGESTED)
            if match is not None:
                other = match[0]
                services.change_image_status(
                    locked,
                    S.NEEDS_REVIEW,
                    reason=f"Looks like {other.original_filename} in {other.order.order_ref}",
                    review_reason=Image.ReviewReason.NEAR_DUPLICATE,
                )
            pipeline.image_ingested(locked, order)
    except BaseException:
        if not (watch is not None and watch.committed):  # committed rows keep their files
            bookkeeping.delete_files(stored)
        raise
    return Image.objects.get(pk=image.pk)


def _store_renditions(image: Image, processed: imaging.Processed) -> tuple[str, str]:
    """Save preview and thumbnail under server-made names; delete both if either fails.

    The names are announced (committed to the image's metadata) before the files are
    written: a worker killed between writing them and committing the ingest leaves no
    orphan, because the next attempt deletes what was announced.
    """
    wanted = [rendition_upload_path(image, f"{field}.jpg") for field in ("preview", "thumbnail")]
    INGEST.announce(image.pk, wanted)
    names: list[str] = []
    try:
        for name, data in zip(wanted, (processed.preview, processed.thumbnail), strict=True):
            saved = default_storage.save(name, ContentFile(data))
            names.append(saved)
            if saved != name:  # never for a fresh UUID name; a different name is not announced
                raise OSError(f"rendition stored as {saved}, not {name}")
    except BaseException:
        bookkeeping.delete_files(names)
        raise
    return names[0], names[1]


def _near_duplicate(
    image: Image, event_id: int, phash: imaging.PerceptualHash
) -> tuple[Image, int] | None:
    """The closest other image of the event within ``NEAR_DUPLICATE_DISTANCE``, turns included."""
    candidates = (
        Image.objects.filter(order__event_id=event_id)
        .exclude(pk=image.pk)
        .exclude(phash="")
        .exclude(status=S.REJECTED)
        .values_list("pk", "phash")
    )
    best = imaging.nearest(
        phash.all, candidates.iterator(chunk_size=2000), settings.NEAR_DUPLICATE_DISTANCE
    )
    if best is None:
        return None
    other = Image.objects.select_related("order").get(pk=best[0])
    return other, best[1]


def _reject(image: Image, exc: imaging.ImageRejected) -> Image:
    """Refuse the file: keep the row and the reason, delete every stored byte after commit."""
    with transaction.atomic():
        order, locked = locking.lock_image(image.pk, order_id=image.order_id)
        if locked.status != S.UPLOADED:
            return locked
        stored = [f.name for f in (locked.original, locked.preview, locked.thumbnail) if f.name]
        metadata, announced = INGEST.settle(locked)
        metadata["rejection"] = {"code": exc.code, "detail": exc.detail[:500]}
        Image.objects.filter(pk=locked.pk).update(
            original="", preview="", thumbnail="", metadata=metadata
        )
        services.change_image_status(locked, S.REJECTED, reason=exc.reason)
        pipeline.image_left_ingest(locked, order)
        bookkeeping.delete_files_after_commit([*stored, *announced])
    return Image.objects.get(pk=image.pk)


def _fail(image: Image, reason: str, *, detail: str = "") -> Image:
    """Mark the image failed, keeping its original so that staff can retry it."""
    return INGEST.fail(
        image.pk,
        reason,
        failure={"detail": detail, "at": timezone.now().isoformat()},
        then=pipeline.image_left_ingest,
    )


def settle_order(order_id: int) -> None:
    """Move the order on if nothing waits for upload or ingest any more.

    For the moments when the last thing an order waited for was not an image
    (an abandoned upload was stopped, the API client submitted the order).
    """
    with transaction.atomic():
        order = locking.lock_order(order_id)
        pipeline.ingest_may_be_done(order)


def submit_order(order: Order, *, actor: Any = None, expected_images: int | None = None) -> Order:
    """The sending system says "this is all": the order may start once its files are ingested.

    For orders that wait for their client (``awaiting_submit``: made through the REST API
    or a folder import); harmless on any other open order. ``expected_images`` (optional)
    records how many files the client sent, for the timeline. Idempotent: a second submit
    changes nothing. Raises ``PermissionDenied`` (the actor may not upload to the order) and
    ``OrderError`` (a completed or cancelled order).
    """
    with transaction.atomic():
        locked = locking.lock_order(order.pk)
        services.access_check(actor, access.Action.UPLOAD, locked)
        if locked.is_closed:
            raise OrderError(
                f"Order {locked.order_ref} is {locked.status}; it cannot be submitted."
            )
        if locked.submitted_at is None:
            locked.submitted_at = timezone.now()
            locked.save(update_fields=["submitted_at", "updated_at"])
            count = Image.objects.filter(order_id=locked.pk).count()
            services.record_event(
                locked, Kind.ORDER_SUBMITTED, {"images": count, "expected": expected_images}, actor
            )
        pipeline.ingest_may_be_done(locked)
    order.refresh_from_db()
    return order
