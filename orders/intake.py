"""Intake: every write that brings an image into an order.

``add_image`` stores one file under a server-made name and queues its ingest;
``ingest_image`` (run by the ``ingest`` queue) validates and measures it.
Pages, the upload endpoint, the API and the folder import all call these, so
a file is treated the same whichever door it came through.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from . import access, services
from .exceptions import OrderError
from .models import Image, Order, OrderEvent

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
    try:
        with spool, transaction.atomic():
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
            if locked.status == Order.Status.DRAFT:
                services.change_order_status(locked, Order.Status.PENDING, reason="images arriving")
            services.refresh_image_counters(locked.pk)
            services.record_event(
                locked,
                Kind.IMAGE_ADDED,
                {"image": image.pk, "filename": name, "size": size},
                actor,
            )
            transaction.on_commit(lambda: _queue_ingest(image.pk))
    except BaseException:
        if stored:  # never leave bytes behind for a row that was not written
            default_storage.delete(stored)
        raise
    return image


def _lock_open_order(order: Order) -> Order:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.is_closed:
        raise OrderError(f"Order {locked.order_ref} is {locked.status}; no images can be added.")
    return locked


def _queue_ingest(image_id: int) -> None:
    from .tasks import ingest_image

    ingest_image.delay(image_id)
