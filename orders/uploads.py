"""Resumable uploads (tus-style): create, append at an offset, finish into an Image.

One ``Upload`` row per file. The bytes collect in the media storage (local disk or
the shared object store, so a client that reconnects to another web process goes on
where it stopped) as one object per accepted chunk, under
``uploads/<upload uuid>/<offset>-<length>.chunk`` (server-made names: object stores
cannot append); every append happens with the row locked, so two requests for the same upload cannot
interleave, and only at the offset the server has stored, so a client that
lost a response asks for the offset and goes on from there. When the last
byte arrives the chunks, read one after the other, go through
``orders.intake.add_image`` like a file from any other door, and are deleted.

Views stay thin: they parse the request, call these functions and turn
``UploadError`` into a JSON answer with its ``status``.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from utilities import access, media
from utilities.errors import OrderError, error_body

from . import intake
from .models import Image, Order, Upload

#: Longest client file name accepted (it is shortened for display anyway).
MAX_FILENAME_CHARS = 1024


class UploadError(Exception):
    """A refused upload request; ``status`` is the HTTP status to answer with."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, Any]:
        """The project's one error shape (the REST API answers the same)."""
        return error_body(self.code, self.message, self.details())

    def details(self) -> dict[str, Any]:
        return {}


class OffsetMismatch(UploadError):
    """The client's offset is not the stored one: it must re-sync and resend."""

    status = 409
    code = "offset_mismatch"

    def __init__(self, offset: int) -> None:
        super().__init__(
            f"The server has {offset} bytes of this file; continue from there.",
        )
        self.offset = offset

    def details(self) -> dict[str, Any]:
        return {"offset": self.offset}


@dataclass(frozen=True)
class ChunkResult:
    upload: Upload
    image: Image | None = None

    @property
    def done(self) -> bool:
        return self.upload.status == Upload.Status.COMPLETE


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def part_folder(upload: Upload) -> str:
    """The storage folder where the chunks of ``upload`` collect (named by its UUID)."""
    return upload.part_folder


_CHUNK_NAME = re.compile(r"^(\d{15})-(\d+)\.chunk$")


def _chunk_name(upload: Upload, offset: int, length: int) -> str:
    return f"{part_folder(upload)}/{offset:015d}-{length}.chunk"


def stored_chunks(upload: Upload) -> list[tuple[int, int, str]]:
    """The stored chunks of ``upload`` as (offset, length, name), by offset."""
    folder = part_folder(upload)
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    found = []
    for file in files:
        match = _CHUNK_NAME.match(file)
        if match:
            found.append((int(match[1]), int(match[2]), f"{folder}/{file}"))
    return sorted(found)


def stored_bytes(upload: Upload) -> bytes | None:
    """The bytes received so far (for checks and tests), ``None`` when no chunk is stored."""
    chunks = stored_chunks(upload)
    if not chunks:
        return None
    parts = []
    for _offset, _length, name in chunks:
        with default_storage.open(name, "rb") as handle:
            parts.append(handle.read())
    return b"".join(parts)


def delete_parts(upload: Upload) -> None:
    """Drop every stored chunk of ``upload``."""
    media.delete_folder(default_storage, part_folder(upload))


class _Joined(io.RawIOBase):
    """The chunks of an upload read in order as one stream (each streamed from storage)."""

    def __init__(self, names: list[str]) -> None:
        self._names = list(names)
        self._current: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            if self._current is None:
                if not self._names:
                    return 0
                self._current = media.open_stream(default_storage, self._names.pop(0))
            data = self._current.read(len(buffer))
            if data:
                buffer[: len(data)] = data
                return len(data)
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        super().close()


def max_chunk_bytes() -> int:
    return settings.UPLOAD_CHUNK_BYTES


@dataclass(frozen=True)
class Opened:
    """What ``open_upload`` answered: the upload, and whether this request made it."""

    upload: Upload
    created: bool


def create_upload(
    order: Order, *, actor: Any, filename: Any, size: Any, upload_id: Any = None
) -> Upload:
    """``open_upload``, for callers that only need the upload."""
    return open_upload(order, actor=actor, filename=filename, size=size, upload_id=upload_id).upload


def open_upload(
    order: Order, *, actor: Any, filename: Any, size: Any, upload_id: Any = None
) -> Opened:
    """Open an upload of one file of ``size`` bytes for ``order``.

    Refuses up front what intake would refuse anyway (empty or oversize files),
    so the client does not send 100 MB to hear "too large".

    ``upload_id`` (optional) is a UUID the client chose for this upload. It makes
    the create safe to repeat: a browser that kept the id but lost the answer
    (reloaded, went offline) asks again with the same id and gets the same
    upload, with its offset, instead of leaving an orphan that would hold the
    order back until the stale-upload task stops it.
    """
    if not access.can(actor, access.Action.UPLOAD, order):
        raise PermissionDenied(f"You may not add images to order {order.order_ref}.")
    refused = order.images_refused_because()
    if refused:
        raise UploadError(refused, status=409, code="order_closed")
    if not isinstance(filename, str) or not filename.strip():
        raise UploadError("A file name is required.", code="filename_missing")
    if len(filename) > MAX_FILENAME_CHARS:
        raise UploadError(
            f"The file name is longer than {MAX_FILENAME_CHARS} characters.",
            code="filename_too_long",
        )
    # bool is an int in Python; a JSON true is not a size.
    if not isinstance(size, int) or isinstance(size, bool):
        raise UploadError("The file size must be a whole number of bytes.", code="size_invalid")
    if size < 0:
        raise UploadError("The file size cannot be negative.", code="size_invalid")
    if size == 0:
        raise UploadError("File is empty (0 bytes).", code="file_empty")
    limit = settings.INGEST_MAX_FILE_BYTES
    if size > limit:
        raise UploadError(
            f"File is larger than the {_mb(limit)} limit ({_mb(size)}).", code="file_too_large"
        )
    name = intake.display_name(filename)
    wanted = _client_upload_id(upload_id)
    if wanted is not None:
        existing = _existing_upload(wanted, order=order, actor=actor, filename=name, size=size)
        if existing is not None:
            return Opened(existing, created=False)
    upload = Upload(order=order, created_by=actor, filename=name, size=size)
    if wanted is not None:
        upload.pk = wanted
    # No bytes are stored before the first chunk: the row is the upload.
    try:
        with transaction.atomic():
            upload.save(force_insert=True)
    except IntegrityError:  # the same id, sent twice at once: the other request made it
        if wanted is None:
            raise
        existing = _existing_upload(wanted, order=order, actor=actor, filename=name, size=size)
        if existing is not None:
            return Opened(existing, created=False)
        raise _id_taken() from None
    return Opened(upload, created=True)


def _client_upload_id(raw: Any) -> uuid.UUID | None:
    """The client's chosen upload id as a UUID, ``None`` when it sent none."""
    if raw is None:
        return None
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        return uuid.UUID(raw)
    except ValueError:
        raise UploadError(
            "The upload id must be a UUID such as 0b9e7c1a-3f2d-4c5e-9a8b-7c6d5e4f3a2b.",
            code="upload_id_invalid",
        ) from None


def _existing_upload(
    upload_id: uuid.UUID, *, order: Order, actor: Any, filename: str, size: int
) -> Upload | None:
    """The caller's upload ``upload_id`` of this file, if it exists (any status).

    An id that exists for anything else (another person, order or file) is refused:
    the client made a mistake, and must not get someone else's upload.
    """
    found = Upload.objects.select_related("image").filter(pk=upload_id).first()
    if found is None:
        return None
    if (
        found.order_id != order.pk
        or found.created_by_id != actor.pk
        or found.filename != filename
        or found.size != size
    ):
        raise _id_taken()
    return found


def _id_taken() -> UploadError:
    return UploadError(
        "This upload id is already used for another file; choose a new one.",
        status=409,
        code="upload_id_taken",
    )


def discard_upload(upload: Upload) -> Upload:
    """Stop an open upload at its owner's request (tus "termination"): the bytes go.

    A finished upload is an image by now and stays (remove the image instead); a
    stopped one stays stopped. Either way the answer is the upload as it stands.
    """
    if upload.status == Upload.Status.COMPLETE:
        raise UploadError(
            "This upload is complete; its file is an image of the order now.",
            status=409,
            code="upload_complete",
        )
    if upload.status == Upload.Status.OPEN:
        abort(upload)
    upload.refresh_from_db()
    return upload


def get_upload(user: Any, order: Order, upload_id: Any) -> Upload | None:
    """The caller's own upload ``upload_id`` of ``order``, or ``None``.

    Uploads belong to the person who started them: another user's id is
    treated as unknown, whatever their role.
    """
    try:
        return Upload.objects.select_related("image").get(
            pk=upload_id, order=order, created_by=user
        )
    except (Upload.DoesNotExist, ValueError):
        return None


def upload_status(upload: Upload) -> dict[str, Any]:
    """What the client needs to resume: offset, size, and the image once done."""
    body: dict[str, Any] = {
        "id": str(upload.pk),
        "filename": upload.filename,
        "offset": upload.offset,
        "size": upload.size,
        "chunk_size": max_chunk_bytes(),
        "status": upload.status,
        "done": upload.status == Upload.Status.COMPLETE,
    }
    if upload.status == Upload.Status.COMPLETE and upload.image is not None:
        body["image"] = image_summary(upload.image)
    return body


def image_summary(image: Image) -> dict[str, Any]:
    return {
        "id": image.pk,
        "status": image.status,
        "status_label": image.get_status_display(),
        "status_reason": image.status_reason,
    }


def parse_offset(raw: str | None) -> int:
    """The ``Upload-Offset`` header as a non-negative int, or an ``UploadError``."""
    if raw is None or raw == "":
        raise UploadError("The Upload-Offset header is required.", code="offset_missing")
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise UploadError(
            "The Upload-Offset header must be a whole number of bytes.", code="offset_invalid"
        )
    return int(raw)


def append_chunk(upload: Upload, *, offset: int, data: bytes, actor: Any) -> ChunkResult:
    """Write ``data`` at ``offset`` if that is where the stored upload stands.

    Finishes the upload through ``intake.add_image`` when the last byte is in.
    """
    if not data:
        raise UploadError("The request body is empty; send the next chunk.", code="chunk_empty")
    if len(data) > max_chunk_bytes():
        raise UploadError(
            f"A chunk may be at most {max_chunk_bytes()} bytes.", status=413, code="chunk_too_large"
        )
    image: Image | None = None
    try:
        with transaction.atomic():
            locked = (
                # Lock the upload row only: parallel files of one order go on in parallel.
                Upload.objects.select_for_update(of=("self",))
                .select_related("order", "image")
                .get(pk=upload.pk)
            )
            order = locked.order
            if not access.can(actor, access.Action.UPLOAD, order):
                raise PermissionDenied(f"You may not add images to order {order.order_ref}.")
            if locked.status == Upload.Status.COMPLETE:
                # A resend after a lost response: the client re-syncs and sees "done".
                raise OffsetMismatch(locked.offset)
            if locked.status == Upload.Status.ABORTED:
                raise UploadError(
                    "This upload was stopped; start the file again.", status=410, code="aborted"
                )
            if offset != locked.offset:
                raise OffsetMismatch(locked.offset)
            if offset + len(data) > locked.size:
                raise UploadError(
                    f"The chunk goes past the declared size of {locked.size} bytes.",
                    code="chunk_past_end",
                )
            refused = order.images_refused_because()
            if refused:
                raise OrderError(refused)
            chunks = _write_at(locked, offset, data)
            locked.offset = offset + len(data)
            if locked.offset == locked.size:
                with _Joined([name for _o, _l, name in chunks]) as joined:
                    image = intake.add_image(
                        order, source=joined, filename=locked.filename, actor=actor
                    )
                locked.image = image
                locked.status = Upload.Status.COMPLETE
            locked.save(update_fields=["offset", "image", "status", "updated_at"])
    except OrderError as exc:  # the order closed while the file was arriving
        abort(upload)
        raise UploadError(str(exc), status=409, code="order_closed") from exc
    except UploadError as exc:
        if exc.code == "part_missing":  # nothing to resume from: the client starts again
            abort(upload)
        raise
    if image is not None:
        delete_parts(locked)
    return ChunkResult(locked, image)


def _write_at(upload: Upload, offset: int, data: bytes) -> list[tuple[int, int, str]]:
    """Store ``data`` as the chunk at ``offset``, after checking the chunks before it are all
    there and dropping whatever a failed earlier attempt stored from ``offset`` on.

    Returns the chunks that now make the upload's bytes, in order.
    """
    kept: list[tuple[int, int, str]] = []
    expected = 0
    for start, length, name in stored_chunks(upload):
        if start >= offset:  # written by an attempt whose offset never reached the database
            default_storage.delete(name)
            continue
        if start != expected:
            break
        kept.append((start, length, name))
        expected = start + length
    if expected != offset:
        raise UploadError(
            "The partial file is gone or shorter than recorded; start the file again.",
            status=410,
            code="part_missing",
        )
    name = _chunk_name(upload, offset, len(data))
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:
        default_storage.delete(saved)
        raise OSError(f"upload chunk stored as {saved}, not {name}")
    kept.append((offset, len(data), name))
    return kept


def abort(upload: Upload) -> None:
    """Stop an upload for good and drop its bytes."""
    Upload.objects.filter(pk=upload.pk, status=Upload.Status.OPEN).update(
        status=Upload.Status.ABORTED
    )
    delete_parts(upload)
    intake.settle_order(upload.order_id)


def abort_stale_uploads(max_age: dt.timedelta | None = None) -> int:
    """Stop uploads nobody has added to for ``max_age`` and delete their part files.

    Run hourly by beat (``orders.tasks.abort_stale_uploads``): a browser closed
    mid-upload leaves its part file behind, and its open upload would keep the
    order from moving on. Returns how many were stopped.
    """
    if max_age is None:
        max_age = dt.timedelta(hours=settings.UPLOAD_STALE_HOURS)
    cutoff = timezone.now() - max_age
    stale = list(
        Upload.objects.filter(status=Upload.Status.OPEN, updated_at__lt=cutoff).only("id")[:1000]
    )
    stopped = 0
    for upload in stale:
        with transaction.atomic():
            locked = (
                Upload.objects.select_for_update(skip_locked=True)
                .filter(pk=upload.pk, status=Upload.Status.OPEN, updated_at__lt=cutoff)
                .first()
            )
            if locked is None:  # resumed (or being written) meanwhile
                continue
            locked.status = Upload.Status.ABORTED
            locked.save(update_fields=["status", "updated_at"])
        delete_parts(upload)
        intake.settle_order(locked.order_id)
        stopped += 1
    return stopped
