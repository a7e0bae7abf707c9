"""Server-rendered order pages, the image file views and the upload endpoints.

Thin: reads go through ``orders.selectors`` (which start from the access
rule), writes through ``orders.services`` / ``orders.uploads``. Images are
customer data: their files are only ever answered here, after the rule.
"""

from __future__ import annotations

import json
import mimetypes
from functools import wraps
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from events.models import Event
from utilities import access, media
from utilities.audit import record_access
from utilities.errors import OrderError
from utilities.json_views import json_error, json_login_required

from . import (
    attention,
    guidance,
    intake,
    live,
    pipeline,
    print_services,
    prints,
    selectors,
    services,
    timeline,
    uploads,
)
from .forms import CancelOrderForm, NewOrderForm, OrderDetailsForm, OrderFilterForm
from .models import Image, Order

#: Largest JSON body accepted when an upload is opened.
MAX_JSON_BODY = 16 * 1024
#: MIME types an original may be sent as; anything else goes out as bytes.
SAFE_ORIGINAL_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/tiff", "image/webp", "image/heic", "image/heif"}
)
#: File answers are data, never a document: no scripts, no plugins, no framing.
FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"


# --- helpers ------------------------------------------------------------------------


def _visible_order(request, order_ref: str, *related: str) -> Order:
    return get_object_or_404(
        Order.objects.visible_to(request.user).select_related(*related), order_ref=order_ref
    )


def _order_progress(order: Order) -> dict[str, Any]:
    """The order's status and counters for the page and its JSON: what live messages carry."""
    state = live.order_state(order)
    state.pop("last_seq")
    return state


def _version(field_file) -> str:
    """A short token of a rendition's stored name: its URL changes when it is remade."""
    return PurePosixPath(field_file.name).stem[:12]


def decorate_image(image: Image, base: str) -> Image:
    """Attach the grid's display facts (URLs, box size) to an image, without queries."""
    image.thumb_w, image.thumb_h = selectors.thumbnail_box(image)
    prefix = f"{base}images/{image.pk}/"
    thumbnail, preview = image.thumbnail, image.preview
    image.thumbnail_url = f"{prefix}thumbnail?v={_version(thumbnail)}" if thumbnail else ""
    image.preview_url = f"{prefix}preview?v={_version(preview)}" if preview else ""
    image.original_url = f"{prefix}original" if image.original else ""
    # Prints are made of a picture that was read and is going on: not of a file refused.
    printable = bool(preview) and image.status != Image.Status.REJECTED
    image.prints_url = f"{prefix}prints/" if printable else ""
    image.is_pending = image.status in Image.IN_WORK
    return image


def image_json(image: Image) -> dict[str, Any]:
    return {
        "id": image.pk,
        "filename": image.original_filename,
        "sort_key": image.name_key,
        "status": image.status,
        "status_label": image.get_status_display(),
        "status_reason": image.status_reason,
        "width": image.width,
        "height": image.height,
        "thumb_w": image.thumb_w,
        "thumb_h": image.thumb_h,
        "thumbnail_url": image.thumbnail_url or None,
        "preview_url": image.preview_url or None,
        "original_url": image.original_url or None,
        "prints_url": image.prints_url or None,
        "pending": image.is_pending,
    }


def _json_errors(view):
    """Turn refusals into JSON answers: scripts read ``error`` and show it."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except uploads.UploadError as exc:
            response = JsonResponse(exc.as_dict(), status=exc.status)
            if isinstance(exc, uploads.OffsetMismatch):
                response["Upload-Offset"] = str(exc.offset)
            response["Cache-Control"] = "no-store"
            return response
        except PermissionDenied as exc:
            return json_error(403, str(exc) or "You may not do this.", "permission_denied")
        except Http404:
            return json_error(404, "No such order, image or upload.", "not_found")

    return wrapped


# --- dashboard and list ---------------------------------------------------------------


@login_required
def home(request):
    counters, total = selectors.status_counters(request.user)
    orders = selectors.open_orders(request.user)
    activity = timeline.describe(selectors.recent_activity(request.user))
    open_count = sum(n for value, _label, n in counters if value not in Order.CLOSED)
    report = attention.collect(request.user)
    for order in orders:
        order.attention = report.flags.get(order.pk, "")
    return render(
        request,
        "orders/home.html",
        {
            "attention": report,
            "orders": orders,
            "open_count": open_count,
            "activity": activity,
            "counters": counters,
            "total": total,
            "can_create": access.can_create_order(request.user),
            "can_view_analytics": access.can_view_analytics(request.user),
        },
    )


@login_required
@require_GET
def order_list(request):
    form = OrderFilterForm(request.GET or None)
    filters = form.filters()
    after = selectors.Cursor.decode(request.GET.get("after"))
    before = None if after else selectors.Cursor.decode(request.GET.get("before"))
    page = selectors.order_page(request.user, filters, after=after, before=before)
    kept = {
        k: v.isoformat() if hasattr(v, "isoformat") else v
        for k, v in filters.items()
        if k in OrderFilterForm.FILTER_FIELDS
    }
    return render(
        request,
        "orders/order_list.html",
        {
            "form": form,
            "page": page,
            "orders": page.orders,
            "filtered": bool(filters),
            "newer_query": urlencode({**kept, "before": page.newer.encode()}) if page.newer else "",
            "older_query": urlencode({**kept, "after": page.older.encode()}) if page.older else "",
            "first_query": urlencode(kept),
            "can_create": access.can_create_order(request.user),
        },
    )


# --- new order -----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def order_create(request):
    if not access.can_create_order(request.user):
        raise PermissionDenied("You may not create orders.")
    form = NewOrderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = services.create_order(
                actor=request.user,
                event=data["event_id"],
                customer_name=data["customer_name"],
                customer_email=data["customer_email"],
                notes=data["notes"],
                preset=data["preset"],
            )
        except OrderError as exc:  # e.g. the event is closed in the PMR
            form.add_error("event_id", str(exc))
        else:
            messages.success(request, f"Order {order.order_ref} created. Add its images below.")
            _save_prints(request, order, form.print_lines())
            return redirect("order_detail", order_ref=order.order_ref)
    recent_events = Event.objects.only("event_id", "name").order_by("-created_at")[:50]
    return render(
        request,
        "orders/order_form.html",
        {"form": form, "recent_events": recent_events},
        status=400 if form.is_bound else 200,
    )


def _save_prints(request, order: Order, lines: list[dict]) -> bool:
    """Save what was ordered; a refusal (a size withdrawn meanwhile) is said, not lost."""
    try:
        print_services.set_order_prints(order, lines, actor=request.user)
    except OrderError as exc:
        messages.error(request, f"The prints were not saved: {exc}")
        return False
    return True


# --- order detail ------------------------------------------------------------------------

#: Timeline entries on the order page: the newest, as many as its script keeps (order.js).
TIMELINE_SHOWN = 100


def _after_param(request, name: str) -> int:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else 0


@login_required
@require_GET
def order_detail(request, order_ref: str):
    order = _visible_order(request, order_ref, "event", "created_by", "assigned_to", "preset")
    after_id = _after_param(request, "images_after")
    after_key = selectors.page_anchor(order, after_id)
    if after_key is None:  # not an image of this order: the first page
        after_id = 0
    images, more_images = selectors.image_grid(order, after_id=after_id, after_key=after_key)
    base = reverse("order_detail", args=[order.order_ref])
    for image in images:
        decorate_image(image, base)
    entries, _ = timeline.entries_after(order.pk, limit=TIMELINE_SHOWN, newest_first=True)
    can_upload = access.can(request.user, access.Action.UPLOAD, order)
    images_refused = order.images_refused_because()
    return render(
        request,
        "orders/order_detail.html",
        {
            **_actions_context(request, order),
            "order": order,
            "images": images,
            "images_after": after_id,
            "more_images": more_images,
            "next_images_after": images[-1].pk if images and more_images else None,
            # Images arriving live are placed by name, if their name falls on this page:
            # after the previous page's last one, and up to this page's last (if more follow).
            "grid_is_last_page": not more_images,
            "grid_after_key": after_key or "",
            "grid_until_key": images[-1].name_key if images and more_images else "",
            "grid_until_id": images[-1].pk if images and more_images else "",
            # Every image is on the page when it is the only one: no query for the newest id.
            "last_image_id": max((i.pk for i in images), default=0)
            if not (after_id or more_images)
            else selectors.last_image_id(order),
            "progress": _order_progress(order),
            "timeline": entries,
            "can_change": access.can(request.user, access.Action.CHANGE, order),
            "can_process": access.can(request.user, access.Action.PROCESS, order),
            "can_upload": can_upload and not images_refused,
            # Why the drop zone is missing, for everyone who sees the page.
            "upload_refused": images_refused
            or ("" if can_upload else "Your role does not add images to this order."),
            "chunk_bytes": settings.UPLOAD_CHUNK_BYTES,
            "max_file_bytes": settings.INGEST_MAX_FILE_BYTES,
            "held": _held_state(request.user, order),
            "print_lines": prints.order_lines(order),
        },
    )


def _held_state(user: Any, order: Order) -> dict[str, Any]:
    """What holds the order back that a person must act on: failed images (retry them, or a
    reviewer delivers without them), or a sending system that has not said "this is all"."""
    held: dict[str, Any] = {"failed": [], "waiting_for_submit": False}
    if order.failed_images:  # the stored counter: no query for the usual order
        failed = list(
            Image.objects.filter(order=order, status=Image.Status.FAILED)
            .order_by("pk")
            .values_list("original_filename", flat=True)[:10]
        )
        in_work = Image.objects.filter(order=order, status__in=Image.IN_WORK).exists()
        held["failed"] = failed
        held["more_failed"] = max(0, order.failed_images - len(failed))
        held["can_deliver_short"] = (
            bool(failed)
            and not in_work
            and not order.is_closed
            and access.can(user, access.Action.REVIEW, order)
        )
    elif order.awaiting_submit and order.status in (Order.Status.DRAFT, Order.Status.PENDING):
        held["waiting_for_submit"] = pipeline.files_still_coming(order)
    return {
        **held,
        "can_submit": access.can(user, access.Action.UPLOAD, order) and not order.is_closed,
    }


@login_required
@require_POST
def order_deliver_without_failed(request, order_ref: str):
    """A reviewer's "Deliver without the failed images" (orders.pipeline)."""
    order = _visible_order(request, order_ref)
    try:
        pipeline.deliver_without_failed(order, request.user)
    except OrderError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Order {order.order_ref} goes to the PMR without its failed images. "
            "The timeline records your decision.",
        )
    return redirect("order_detail", order_ref=order.order_ref)


@login_required
@require_POST
def order_submit(request, order_ref: str):
    """Start an order whose sending system never said every file is in."""
    order = _visible_order(request, order_ref)
    try:
        intake.submit_order(order, actor=request.user)
    except OrderError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Order {order.order_ref} starts once its files are checked.")
    return redirect("order_detail", order_ref=order.order_ref)


@json_login_required
@require_GET
@_json_errors
def order_images_json(request, order_ref: str):
    """New images (``after``) and the current state of some (``ids``), for polling."""
    order = _visible_order(request, order_ref, *live.ORDER_RELATED)
    raw_ids = request.GET.get("ids", "")
    try:
        ids = [int(x) for x in raw_ids.split(",") if x.strip()][:500] if raw_ids else []
    except ValueError:
        return json_error(400, "ids must be a comma-separated list of image numbers.")
    if any(i < 0 or i > 2**63 - 1 for i in ids):
        return json_error(400, "ids must be image numbers.")
    after_id = _after_param(request, "after")
    base = reverse("order_detail", args=[order.order_ref])
    images = [
        image_json(decorate_image(img, base))
        for img in selectors.images_changed(order, after_id=after_id, ids=ids)
    ]
    body: dict[str, Any] = {"order": _order_progress(order), "images": images}
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


# --- image files ---------------------------------------------------------------------------

RENDITIONS = ("thumbnail", "preview", "original")


@login_required
@require_GET
def image_file(request, order_ref: str, image_id: int, kind: str):
    """One file of an image, if the user may see its order; 404 otherwise or if not made yet."""
    if kind not in RENDITIONS:
        raise Http404
    image = get_object_or_404(
        Image.objects.visible_to(request.user).only(
            "id", "order_id", "original_filename", "mime_type", kind
        ),
        pk=image_id,
        order__order_ref=order_ref,
    )
    field_file = getattr(image, kind)
    if not field_file:
        raise Http404(f"The {kind} of this image is not ready yet.")
    try:
        # Streamed from the storage (object store: never fetched whole into memory first).
        handle = media.open_stream(field_file.storage, field_file.name)
    except (FileNotFoundError, OSError) as exc:
        raise Http404(f"The {kind} of this image is missing.") from exc
    stem = PurePosixPath(image.original_filename).stem or "image"
    if kind == "original":
        # Ingest sets the type from the content; before that, the name is the only hint.
        mime = image.mime_type or mimetypes.guess_type(image.original_filename)[0]
        mime = mime if mime in SAFE_ORIGINAL_TYPES else None
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=image.original_filename,
            content_type=mime or "application/octet-stream",
        )
        patch_cache_control(response, private=True, no_cache=True)
        # A customer's original leaving the system is on record (previews are not: they are
        # what every page shows).
        record_access(image, "downloaded_original", actor=request.user, request=request)
    else:
        response = FileResponse(handle, filename=f"{stem}-{kind}.jpg", content_type="image/jpeg")
        # The URL carries the rendition's version, so the browser may keep it a while.
        patch_cache_control(response, private=True, max_age=86400)
    response["Content-Security-Policy"] = FILE_CSP
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- resumable uploads -------------------------------------------------------------------------


def _upload_order(request, order_ref: str) -> Order:
    """The order, if visible (else 404), and if the user may upload to it (else 403)."""
    order = _visible_order(request, order_ref)
    if not access.can(request.user, access.Action.UPLOAD, order):
        raise PermissionDenied(f"You may not add images to order {order.order_ref}.")
    return order


def _upload_response(upload, status: int = 200) -> JsonResponse:
    response = JsonResponse(uploads.upload_status(upload), status=status)
    response["Upload-Offset"] = str(upload.offset)
    response["Upload-Length"] = str(upload.size)
    response["Cache-Control"] = "no-store"
    return response


@json_login_required
@require_POST
@_json_errors
def upload_create(request, order_ref: str):
    """Open an upload: JSON ``{filename, size}`` → 201 ``{id, offset: 0, chunk_size}``.

    With ``id`` (a UUID the client chose) the create may be repeated: the same id
    answers the same upload (200, with its offset) instead of opening another.
    """
    order = _upload_order(request, order_ref)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_JSON_BODY:
        return json_error(400, "The request body is too large for an upload request.")
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return json_error(400, 'The body must be JSON: {"filename": …, "size": …}.')
    if not isinstance(body, dict):
        return json_error(400, "The body must be a JSON object with filename and size.")
    missing = [key for key in ("filename", "size") if key not in body]
    if missing:
        return json_error(400, f"Missing field(s): {', '.join(missing)}.", "field_missing")
    opened = uploads.open_upload(
        order,
        actor=request.user,
        filename=body["filename"],
        size=body["size"],
        upload_id=body.get("id"),
    )
    upload = opened.upload
    # 200: the client repeated a create it had sent before (same id): here is where it stands.
    response = _upload_response(upload, status=201 if opened.created else 200)
    response["Location"] = reverse("upload_detail", args=[order.order_ref, upload.pk])
    return response


@json_login_required
@require_http_methods(["GET", "HEAD", "PATCH", "DELETE"])
@_json_errors
def upload_detail(request, order_ref: str, upload_id):
    """GET/HEAD: where the upload stands. PATCH: append the body at ``Upload-Offset``.
    DELETE: stop it (the person discarded the file) so the order does not wait for it."""
    order = _upload_order(request, order_ref)
    upload = uploads.get_upload(request.user, order, upload_id)
    if upload is None:
        raise Http404
    if request.method in ("GET", "HEAD"):
        response = _upload_response(upload)
        if request.method == "HEAD":
            response.content = b""
        return response
    if request.method == "DELETE":
        return _upload_response(uploads.discard_upload(upload))
    offset = uploads.parse_offset(request.headers.get("Upload-Offset"))
    limit = uploads.max_chunk_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return json_error(413, f"A chunk may be at most {limit} bytes.", "chunk_too_large")
    data = request.read(limit + 1)
    result = uploads.append_chunk(upload, offset=offset, data=data, actor=request.user)
    return _upload_response(result.upload)


# --- the order page's actions: edit details, cancel ----------------------------------------------


def _actions_context(request, order: Order) -> dict[str, Any]:
    """What the order page's "What happens next" box needs (templates/orders/includes/
    order_actions.html); the AI actions come from ``{% ai_order_panel %}``."""
    user = request.user
    return {
        "next_step": guidance.next_step(order),
        "can_edit": access.can(user, access.Action.CHANGE, order),
        "edit_refused": services.edit_refused_because(order),
        "can_cancel": access.can(user, access.Action.CANCEL, order),
        "cancel_refused": services.cancel_refused_because(order),
    }


@login_required
@require_GET
def order_actions_fragment(request, order_ref: str):
    """The "What happens next" box alone, for the page's script to refresh it when the
    order's state changes (static/js/order_actions.js)."""
    order = _visible_order(request, order_ref, "event", "preset")
    response = render(
        request,
        "orders/includes/order_actions.html",
        {**_actions_context(request, order), "order": order},
    )
    response["Cache-Control"] = "no-store"
    return response


def _acting_order(request, order_ref: str, action: access.Action, verb: str) -> Order:
    """The order, if visible (else 404), and if the user may ``action`` it (else 403)."""
    order = _visible_order(request, order_ref, "event", "preset")
    if not access.can(request.user, action, order):
        raise PermissionDenied(f"You may not {verb} order {order.order_ref}.")
    return order


@login_required
@require_http_methods(["GET", "POST"])
def order_edit(request, order_ref: str):
    """Edit the order's details (``services.update_order``; it checks again)."""
    order = _acting_order(request, order_ref, access.Action.CHANGE, "edit")
    refused = services.edit_refused_because(order)
    prints_refused = print_services.prints_refused_because(order)
    form = OrderDetailsForm(
        request.POST or None,
        order=order,
        date_editable=services.order_date_editable(order),
        preset_editable=not services.ai_started(order),
        prints=None
        if prints_refused
        else {line.size.code: line.quantity for line in prints.order_lines(order)},
    )
    if request.method == "POST" and not refused and form.is_valid():
        try:
            services.update_order(order, actor=request.user, **form.changes())
            if not prints_refused:
                print_services.set_order_prints(order, form.print_lines(), actor=request.user)
        except OrderError as exc:  # changed meanwhile (e.g. processing started)
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"The details of order {order.order_ref} are saved.")
            return redirect("order_detail", order_ref=order.order_ref)
    if request.method == "POST" and refused:
        form.add_error(None, refused)
    return render(
        request,
        "orders/order_edit.html",
        {"order": order, "form": form, "refused": refused, "prints_refused": prints_refused},
        status=400 if form.is_bound else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_cancel(request, order_ref: str):
    """Cancel the order, after a confirmation page (``services.change_order_status``)."""
    order = _acting_order(request, order_ref, access.Action.CANCEL, "cancel")
    refused = services.cancel_refused_because(order)
    form = CancelOrderForm(request.POST or None)
    if request.method == "POST":
        if refused:
            messages.error(request, refused)
            return redirect("order_detail", order_ref=order.order_ref)
        if form.is_valid():
            reason = form.cleaned_data["reason"].strip() or "cancelled on the order page"
            try:
                services.change_order_status(
                    order, Order.Status.CANCELLED, actor=request.user, reason=reason
                )
            except OrderError:  # it moved on meanwhile
                order.refresh_from_db()
                messages.error(
                    request,
                    services.cancel_refused_because(order)
                    or f"Order {order.order_ref} could not be cancelled; try again.",
                )
            else:
                messages.success(request, f"Order {order.order_ref} is cancelled.")
            return redirect("order_detail", order_ref=order.order_ref)
    return render(
        request,
        "orders/order_cancel.html",
        {"order": order, "form": form, "refused": refused},
        status=400 if form.is_bound else 200,
    )
