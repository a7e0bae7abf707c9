"""The review queue page: images waiting for a person, and the answers people give.

Thin: reads come from ``ai_processing.selectors`` (which start from
``Image.objects.restrict(user, REVIEW)``, the one access rule); answers go
through ``ai_processing.services`` (approve, reject, redo with another preset,
replace with a hand-edited file, and ``answer_many`` for several at once),
which check access again under the order's lock and record who did what.
Forms post and redirect back with a message, so a reload never answers twice;
the page's script (static/js/review.js) posts the bulk form with
``Accept: application/json`` and gets the same answer as JSON, to update the
list in place. An answer to an image someone else answered first is a
sentence, never an error page.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from orders import prints
from orders.imaging.errors import ImageRejected
from orders.models import Image
from orders.print_views import crop_editor_context
from utilities import access
from utilities.errors import OrderError
from utilities.json_views import json_error

from . import selectors, services
from .models import ProcessingPreset

#: Longest reason a reviewer may give for a rejection (longer text is cut).
MAX_REASON = 500
#: How many problems a bulk summary names before it says "and N more".
SUMMARY_PROBLEMS = 5
NOT_A_REVIEWER = "Only managers and admins answer the review queue."


def _require_reviewer(request) -> None:
    if not access.can_review(request.user):
        raise PermissionDenied(NOT_A_REVIEWER)


def _safe_back(raw: str) -> str:
    """The queue's query string the form came from, if it is one (never an outside URL)."""
    return raw if raw.startswith("?") and len(raw) < 500 and "//" not in raw else ""


def _back(request) -> HttpResponseRedirect:
    """Back to the queue page the form was on (only our own URL, never an outside one)."""
    return HttpResponseRedirect(reverse("review_queue") + _safe_back(request.POST.get("back", "")))


@login_required
@require_GET
def review_queue(request):
    _require_reviewer(request)
    filters = selectors.QueueFilters.from_query(request.GET)
    page = selectors.queue_page(request.user, filters)
    printed = prints.orders_with_prints({item.image.order_id for item in page.items})
    for item in page.items:
        item.only_order_href = filters.query(order=item.image.order.order_ref, after=0)
        if item.image.order_id in printed:  # the crop editor, for printed images
            item.crop_editor = crop_editor_context(item.image, request.user)
    reasons = selectors.reason_choices(request.user, filters)
    return render(
        request,
        "ai_processing/review.html",
        {
            "items": page.items,
            "filters": filters,
            "reasons": reasons,
            "reason_links": [
                {"choice": choice, "href": filters.query(reason=choice.value, after=0)}
                for choice in reasons
            ],
            "reason_all_href": filters.query(reason="", after=0) or "?",
            "reason_total": sum(choice.count for choice in reasons),
            "orders": selectors.order_choices(request.user, filters),
            "next_query": filters.query(after=page.next_after) if page.next_after else "",
            "first_query": filters.query(after=0) or "?",
            "total": selectors.waiting(request.user).count(),
            "presets": ProcessingPreset.objects.order_by("name"),
            "max_file_mb": settings.INGEST_MAX_FILE_BYTES // (1024 * 1024),
            "max_reason": MAX_REASON,
            "back": filters.query(),
        },
    )


GONE = "That image is no longer in the review queue (it was deleted, or is not yours to review)."


def _image_for_answer(request, image_id: int) -> Image | None:
    """The image answered, if it exists and the user may review it (one sentence otherwise).

    A form on a page loaded before the image (or its order) was deleted is no
    error of the reviewer's: they get the sentence, and the same sentence for
    an image they may not review, so existence is not given away.
    """
    _require_reviewer(request)
    image = Image.objects.select_related("order").filter(pk=image_id).first()
    if image is None or not access.can(request.user, access.Action.REVIEW, image.order):
        messages.warning(request, GONE)
        return None
    return image


def _answer(request, call, done: str) -> HttpResponseRedirect:
    try:
        image = call()
    except (OrderError, PermissionDenied, ImageRejected) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done.format(name=image.original_filename))
    return _back(request)


@login_required
@require_POST
def review_approve(request, image_id: int):
    image = _image_for_answer(request, image_id)
    if image is None:
        return _back(request)
    return _answer(
        request, lambda: services.approve_image(image, actor=request.user), "{name} approved."
    )


@login_required
@require_POST
def review_reject(request, image_id: int):
    image = _image_for_answer(request, image_id)
    if image is None:
        return _back(request)
    reason = request.POST.get("reason", "")[:MAX_REASON]
    return _answer(
        request,
        lambda: services.reject_image(image, actor=request.user, reason=reason),
        "{name} rejected; its files are deleted.",
    )


@login_required
@require_POST
def review_redo(request, image_id: int):
    image = _image_for_answer(request, image_id)
    if image is None:
        return _back(request)
    slug = request.POST.get("preset", "")
    preset = None
    if slug:
        preset = ProcessingPreset.objects.filter(slug=slug[:100]).first()
        if preset is None:
            messages.error(request, "That preset does not exist (any more); pick another.")
            return _back(request)
    return _answer(
        request,
        lambda: services.redo_image(image, actor=request.user, preset=preset),
        "{name} sent to AI processing again" + (f" with preset {preset.name}." if preset else "."),
    )


@login_required
@require_POST
def review_upload(request, image_id: int):
    image = _image_for_answer(request, image_id)
    if image is None:
        return _back(request)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose the hand-edited file to upload.")
        return _back(request)
    if upload.size > settings.INGEST_MAX_FILE_BYTES:
        messages.error(request, f"{upload.name} is too large.")
        return _back(request)
    data = upload.read()
    return _answer(
        request,
        lambda: services.replace_with_hand_edit(
            image, data, filename=upload.name or "hand-edit.jpg", actor=request.user
        ),
        "{name} replaced by the hand-edited file.",
    )


# --- several at once ------------------------------------------------------------------


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _signed_in_or_json_403(view):
    """``login_required``, except that a script asking for JSON gets a 403 with a sentence."""
    plain = login_required(view)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated and _wants_json(request):
            return json_error(403, "Sign in again; your session has ended.", "signed_out")
        return plain(request, *args, **kwargs)

    return wrapped


def _read_ids(values: list[str]) -> tuple[list[int], int]:
    """The image ids posted, and how many posted values were not ids at all."""
    ids, unreadable = [], 0
    for value in values:
        value = value.strip()
        if value.isdigit() and len(value) < 19:
            ids.append(int(value))
        else:
            unreadable += 1
    return ids, unreadable


def _summary(result: services.BulkResult, unreadable: int) -> tuple[str, int]:
    """The sentence a bulk answer ends with ("12 approved, 1 could not be: …") and its level."""
    verb = "approved" if result.action == "approve" else "rejected"
    problems = [problem.message for problem in result.problems]
    if unreadable:
        problems.append(
            f"{unreadable} of the selected values {'was' if unreadable == 1 else 'were'} "
            "not an image."
        )
    done = len(result.done)
    if not problems:
        return f"{done} {verb}.", messages.SUCCESS
    named = " ".join(problems[:SUMMARY_PROBLEMS])
    if len(problems) > SUMMARY_PROBLEMS:
        named += f" And {len(problems) - SUMMARY_PROBLEMS} more."
    # Images someone else answered first are no failure of this reviewer's: a warning.
    only_gone = not unreadable and all(p.gone for p in result.problems)
    level = messages.WARNING if done or only_gone else messages.ERROR
    return f"{done} {verb}, {len(problems)} could not be: {named}", level


@_signed_in_or_json_403
@require_POST
def review_bulk(request):
    """Approve or reject the posted ``ids`` (each through its service); a summary sentence."""
    wants_json = _wants_json(request)
    if not access.can_review(request.user):
        if wants_json:
            return json_error(403, NOT_A_REVIEWER, "forbidden")
        raise PermissionDenied(NOT_A_REVIEWER)
    action = request.POST.get("action", "")
    ids, unreadable = _read_ids(request.POST.getlist("ids"))
    refusal = ""
    if action not in services.BULK_ANSWERS:
        refusal = "Choose whether to approve or to reject the selected images."
    elif not ids and not unreadable:
        refusal = "Select at least one image first."
    if not refusal:
        try:
            result = services.answer_many(
                ids,
                action=action,
                actor=request.user,
                reason=request.POST.get("reason", "")[:MAX_REASON],
            )
        except OrderError as exc:  # too many at once
            refusal = str(exc)
    if refusal:
        if wants_json:
            return json_error(400, refusal)
        messages.error(request, refusal)
        return _back(request)
    summary, level = _summary(result, unreadable)
    if not wants_json:
        messages.add_message(request, level, summary)
        return _back(request)
    back = _safe_back(request.POST.get("back", ""))
    filters = selectors.QueueFilters.from_query(QueryDict(back[1:]))
    response = JsonResponse(
        {
            "summary": summary,
            "level": messages.DEFAULT_TAGS[level],
            "done": result.done,
            "gone": [p.image_id for p in result.problems if p.gone],
            "kept": [
                {"id": p.image_id, "message": p.message} for p in result.problems if not p.gone
            ],
            "total": selectors.waiting(request.user).count(),
            "reasons": {c.value: c.count for c in selectors.reason_choices(request.user, filters)},
            # The filter form's order list says how many wait per order: it follows too.
            "orders": {c.value: c.count for c in selectors.order_choices(request.user, filters)},
        }
    )
    response["Cache-Control"] = "no-store"
    return response
