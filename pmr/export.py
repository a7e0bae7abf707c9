"""The manual-upload ZIP of an order: what the PMR would receive, streamed.

For when the automation cannot reach the PMR at all: staff download this, upload it by hand,
then mark the order "uploaded by hand". It carries exactly the files the PMR delivery sends
for each delivered image (``pmr.variants``, contract 1.6): the **original** (the bytes the
studio received, SHA-256 unchanged), the **edited** file when there is one, and one **print**
rendition per physical size ordered (rendered now from the crop, as the drain renders it),
each named so a person sees which is which::

    images/<image_ref>/<stem>-original.<ext>
    images/<image_ref>/<stem>-edited.jpg
    images/<image_ref>/<stem>-print-8x10.jpg

plus ``metadata.csv`` (one row per file) and ``manifest.json`` (the order, each image's facts
and its files: variant, print size, name, SHA-256, bytes, pixels, the DPI the PMR would be
told). The DPI a file states is the drain's (``variants.whole_file_dpi``, a print's own); a
digital-only image's files state their pixels and the largest print size they meet instead
(``variants.digital_facts``).

Streamed and bounded in memory: the archive is written to a sink that hands its bytes to the
response as they come (ZIP entries with data descriptors, no seeking), files are copied in
1 MiB chunks, and only one print rendition is held at a time. Nothing is spooled to disk
first, so the download starts at once whatever the order's size.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from django.utils import timezone

from orders.models import Image, Order
from utilities import media, zips
from utilities.spreadsheets import safe_dict

from . import variants
from .drain import image_metadata, pixel_size
from .outbox import image_ref

log = logging.getLogger(__name__)

DELIVERED = (Image.Status.PROCESSED, Image.Status.SYNCED)
CSV_FIELDS = (
    "image_ref",
    "variant",
    "print_size",
    "file",
    "original_filename",
    "sha256",
    "bytes",
    "width",
    "height",
    "dpi",
    "caption",
    "alt_text",
    "keywords",
)


class _Sink(io.RawIOBase):
    """A write-only, non-seekable file: ``zipfile`` writes into it, ``take()`` empties it."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._offset = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._offset += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._offset

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=timezone.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED  # JPEGs do not compress
    return info


def delivered_images(order: Order):
    return Image.objects.filter(order=order, status__in=DELIVERED).order_by("pk")


def stream_order_zip(order: Order) -> Iterator[bytes]:
    """The ZIP's bytes, piece by piece (each file's chunks as they are copied)."""
    sink = _Sink()
    rows: list[dict[str, Any]] = []
    manifest: list[dict[str, Any]] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for image in delivered_images(order).iterator(chunk_size=100):
            if not image.original:
                continue
            ref = image_ref(image)
            meta = image_metadata(image)
            stem = PurePosixPath(image.original_filename).stem or f"image-{image.pk}"
            folder = f"images/{ref}"
            renditions = variants.renditions_of(image)
            files: list[dict[str, Any]] = []
            for spec in variants.files_of(bool(image.processed), renditions):
                entry: dict[str, Any] = {"variant": spec.variant, "print_size": spec.print_size}
                if spec.variant == variants.ORIGINAL:
                    suffix = PurePosixPath(image.original.name).suffix or ".jpg"
                    name = f"{folder}/{stem}-original{suffix.lower()}"
                    width, height = image.width, image.height
                    with contextlib.closing(_stream(image.original)) as source:
                        for piece in _copy(archive, sink, name, source, entry):
                            yield piece
                    dpi = variants.whole_file_dpi(width, height, renditions)
                elif spec.variant == variants.EDITED:
                    name = f"{folder}/{stem}-edited.jpg"
                    width, height = pixel_size(
                        media.StoredContent(image.processed.storage, image.processed.name)
                    )
                    with contextlib.closing(_stream(image.processed)) as source:
                        for piece in _copy(archive, sink, name, source, entry):
                            yield piece
                    dpi = variants.whole_file_dpi(width, height, renditions)
                else:
                    rendition = next(r for r in renditions if r.size_code == spec.print_size)
                    name = f"{folder}/{stem}-print-{spec.print_size}.jpg"
                    width, height, dpi = rendition.width, rendition.height, rendition.dpi
                    try:
                        data = rendition.render()  # one print in memory at a time
                    except Exception as exc:  # the drain refuses it too (render_failed)
                        log.exception("print %s of image %s not rendered", name, image.pk)
                        entry.update(file=None, error=f"not rendered: {type(exc).__name__}")
                        files.append(entry)
                        continue
                    for piece in _copy(archive, sink, name, io.BytesIO(data), entry):
                        yield piece
                    del data
                entry.update(file=name, width=width, height=height, dpi=dpi)
                if dpi is None and not renditions:
                    entry.update(variants.digital_facts(image, width, height))
                files.append(entry)
                rows.append({"image_ref": ref, **meta, **entry})
            manifest.append({"image_ref": ref, **meta, "files": files})
        table = io.StringIO()
        writer = csv.DictWriter(table, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(safe_dict({**row, "keywords": "; ".join(row.get("keywords") or [])}))
        archive.writestr(_entry("metadata.csv"), table.getvalue())
        summary = {
            "order_ref": order.order_ref,
            "event_id": order.event.event_id,
            "customer_name": order.customer_name,
            "customer_email": order.customer_email,
            "files": len(rows),
            "images": manifest,
        }
        archive.writestr(_entry("manifest.json"), json.dumps(summary, indent=2, default=str))
    yield sink.take()


def _stream(field: Any) -> Any:
    """A stored file read in chunks from its storage (an object store's body, not a copy)."""
    return media.open_stream(field.storage, field.name)


def _copy(
    archive: zipfile.ZipFile, sink: _Sink, name: str, source: Any, entry: dict[str, Any]
) -> Iterator[bytes]:
    """Copy ``source`` into the archive as ``name`` in chunks, yielding what was written;
    its SHA-256 and size go into ``entry``."""
    yield sink.take()
    with archive.open(_entry(name), "w") as target:
        copied = zips.ChunkCopy(source)
        for chunk in copied:
            target.write(chunk)
            yield sink.take()
    entry.update(sha256=copied.sha256, bytes=copied.size)
    yield sink.take()
