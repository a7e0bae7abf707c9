"""Manual upload: a ZIP of an order's processed images with their metadata (CSV and JSON).

For when the PMR cannot be reached by the automation at all: staff download
this, upload it by hand, then mark the order "uploaded by hand" in the admin.
Managers only (the access rule's review action), like the other overrides.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
import zipfile
from pathlib import PurePosixPath

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from orders.models import Image, Order
from utilities import access, media, zips
from utilities.audit import record_access
from utilities.spreadsheets import safe_dict

from .drain import image_metadata
from .outbox import image_ref

DELIVERED = (Image.Status.PROCESSED, Image.Status.SYNCED)
CSV_FIELDS = ("image_ref", "file", "original_filename", "sha256", "caption", "alt_text", "keywords")


@login_required
@require_GET
def export_zip(request, order_ref: str):
    order = get_object_or_404(Order.objects.visible_to(request.user), order_ref=order_ref)
    if not access.can(request.user, access.Action.REVIEW, order):
        raise Http404("No such order.")
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 (returned)
    rows = []
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        for image in Image.objects.filter(order=order, status__in=DELIVERED).order_by("pk"):
            field = image.processed if image.processed else image.original
            if not field:
                continue
            ref = image_ref(image)
            suffix = ".jpg" if image.processed else PurePosixPath(field.name).suffix
            name = f"images/{ref}{suffix}"
            # Streamed from the storage; the SHA-256 of the file in the ZIP.
            with contextlib.closing(media.open_stream(field.storage, field.name)) as source:
                sha256, _ = zips.copy_into(archive, name, source)
            meta = image_metadata(image)
            rows.append({"image_ref": ref, "file": name, "sha256": sha256, **meta})
        table = io.StringIO()
        writer = csv.DictWriter(table, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(safe_dict({**row, "keywords": "; ".join(row.get("keywords") or [])}))
        archive.writestr("metadata.csv", table.getvalue())
        summary = {
            "order_ref": order.order_ref,
            "event_id": order.event.event_id,
            "customer_name": order.customer_name,
            "customer_email": order.customer_email,
            "images": rows,
        }
        archive.writestr("metadata.json", json.dumps(summary, indent=2, default=str))
    spool.seek(0)
    record_access(order, "exported_zip", actor=request.user, request=request)
    return FileResponse(spool, as_attachment=True, filename=f"{order.order_ref}-pmr.zip")
