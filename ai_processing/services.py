"""The per-image AI pipeline: every write of the AI step goes through here.

``start_order_processing`` queues one ``process_image`` task per image waiting
for AI; ``process_image`` runs the order's preset (analyze, edit, caption, in
the preset's order) through the provider chain and records results, trails
and costs; ``approve_image``, ``redo_image``, ``replace_with_hand_edit`` and
``reject_image`` are the review queue's answers (``answer_many``: approve or
reject several at once). Provider calls happen outside transactions; each
result is then written under the lock order order → image, and only if the
image is still in the status the work started from, so a second delivery of a
task changes nothing. Status moves go through ``orders.services.change_image_status``
(timeline entries, counters). See docs/ai.md, "Pipeline".
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import Any

import numpy as np
import pyvips
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from orders import bookkeeping, intake, locking, pipeline, prints
from orders import services as order_services
from orders.imaging.errors import ImageRejected
from orders.imaging.sniff import SNIFF_BYTES, sniff
from orders.models import Image, Order, rendition_upload_path
from utilities import access, durations, media
from utilities.errors import OrderError
from utilities.infrastructure import TRANSIENT, CommitWatch, is_transient, queue_after_commit
from utilities.leases import Claim, exclusive
from utilities.redis_clients import shared

from . import fullres, gate, tasks, upscale
from .cache import ResultCache
from .limits import limited_chain
from .models import ProcessingPreset
from .providers.base import ImageInput
from .providers.chain import NoProviderAvailable, ProviderChain
from .timeline import HAND_EDITED, PRESET_CHANGED
from .xmp import embed_caption

log = logging.getLogger(__name__)

S = Image.Status
#: Image statuses the AI step still has work for.
WAITING = frozenset({S.INGESTED, S.ANALYZED})
#: Statuses that keep an order from being done with AI (uploaded: still being ingested).
NOT_DONE = pipeline.AI_NOT_DONE
#: A task delivery that keeps dying (worker lost) stops here and the image is failed.
MAX_AI_ATTEMPTS = 3


# --- orders -------------------------------------------------------------------


def start_order_processing(order_id: int) -> int:
    """Queue ``process_image`` (after commit) for every image of the order waiting for AI.

    Returns how many were queued. With nothing to queue the order is settled
    at once (an order whose images all wait for review moves to review).
    """
    with transaction.atomic():
        order = locking.lock_order(order_id)
        if order.status not in (Order.Status.PROCESSING, Order.Status.NEEDS_REVIEW):
            return 0
        ids = list(
            Image.objects.filter(order_id=order_id, status__in=WAITING).values_list("pk", flat=True)
        )
        for image_id in ids:
            queue_image_after_commit(image_id)
        if not ids:
            pipeline.ai_settled(order)
    return len(ids)


def queue_image(image_id: int) -> None:
    """Queue the image's AI task now (the sweep re-queues stuck images through this)."""
    tasks.process_image.delay(image_id)


def queue_image_after_commit(image_id: int) -> None:
    """Queue the image's AI task once the transaction commits; a broker that is away then is
    logged, and the sweep queues the image later (``utilities.infrastructure``)."""
    queue_after_commit(lambda: queue_image(image_id), f"the AI step of image {image_id}")


#: ``ai_metadata`` key: the print-size shortfall a reviewer approved the image with; the same
#: shortfall does not send it back to review (another one, after an order change, does).
PRINT_SIZE_ACCEPTED = "print_size_accepted"


def _print_shortfall(image_id: int, *, printed: bool = False) -> str:
    """Why the image's crops fall short of ``PRINT_MIN_DPI`` for what was ordered ("" if not).

    The check of issue 16 (docs/prints.md): run as the AI step settles an image and
    again before the order is handed to the PMR (``send_short_prints_to_review``), so print
    lines changed meanwhile count. A shortfall a reviewer already approved is "".
    """
    image = Image.objects.select_related("order").get(pk=image_id)
    # ``printed``: the caller knows the order has prints (the gate asks once per order).
    if not printed and not prints.order_has_prints(image.order_id):
        return ""
    try:
        short = prints.print_shortfall(image)
    except Exception as exc:  # an unreadable file: a person looks, nothing leaves short
        log.warning("Print sizes of image %s not checked", image_id, exc_info=True)
        return f"The print sizes could not be checked: {str(exc)[:200] or type(exc).__name__}."
    return "" if short == image.ai_metadata.get(PRINT_SIZE_ACCEPTED) else short


def _shortfall_now(image: Image) -> str:
    """The shortfall as it stands when a reviewer approves (they may have moved a crop since
    the image went to review), so the check before hand-off does not send it straight back."""
    image.ai_metadata = {k: v for k, v in image.ai_metadata.items() if k != PRINT_SIZE_ACCEPTED}
    Image.objects.filter(pk=image.pk).update(ai_metadata=image.ai_metadata)
    return _print_shortfall(image.pk, printed=True) or image.status_reason


def send_short_prints_to_review(order: Order) -> int:
    """Send processed images too small for what was ordered to review; how many went.

    Runs under the order's lock, just before the order is handed to the PMR (the pipeline's
    last quality gate, ``orders.pipeline.ai_settled``, which moves the order on).
    """
    if not prints.order_has_prints(order.pk):
        return 0
    moved = 0
    for image in Image.objects.filter(order_id=order.pk, status=S.PROCESSED).order_by("pk"):
        short = _print_shortfall(image.pk, printed=True)
        if short:
            order_services.change_image_status(
                image, S.NEEDS_REVIEW, reason=short, review_reason=Image.ReviewReason.PRINT_SIZE
            )
            moved += 1
    return moved


def _refresh_order_cost(order_id: int) -> None:
    total = Image.objects.filter(order_id=order_id).aggregate(s=Sum("ai_cost"))["s"]
    Order.objects.filter(pk=order_id).update(ai_cost=total or Decimal(0))


# --- one image ----------------------------------------------------------------


def process_image(image_id: int) -> Image:
    """Run the order's preset on one image; idempotent.

    Works on an image in ``ingested`` (or ``analyzed``, resuming after the
    analysis was stored); any other image, or one of a completed or cancelled
    order, is returned untouched. Ends
    ``processed``; ``needs_review`` when no provider could do an operation the
    preset needs (or there is no preset); ``failed`` on an unexpected error or
    after ``MAX_AI_ATTEMPTS`` deliveries. Raises ``Image.DoesNotExist`` when the
    image was deleted, and database errors (the task retries those).
    """
    image = Image.objects.select_related("order__preset").get(pk=image_id)
    if image.status not in WAITING or image.order.is_closed:
        return image
    with exclusive(
        shared(),
        lease_key(image_id),
        settings.AI_IMAGE_LEASE_SECONDS,
        renew=True,
        claim=Claim(CLAIMS_KEY, str(image_id)),
    ) as held:
        if not held:  # another delivery is working on it right now
            log.info("Image %s is being processed by another task; skipped", image_id)
            return image
        started = time.perf_counter()
        image = _process_held(image_id)
        # The AI step of one image as it ran (stepping aside and outages are not counted).
        durations.observe("ai", time.perf_counter() - started, outcome=image.status)
        return image


def lease_key(image_id: int) -> str:
    """The Redis lease an image's AI task holds while it runs (renewed; the sweep checks it)."""
    return f"rkh:ai:image:{image_id}"


#: The images an AI task holds a lease on; a worker killed mid-image leaves its image here
#: (``utilities.leases.Claim``): the AI step's orphan sweep queues it again.
CLAIMS_KEY = "rkh:ai:claims"


def _process_held(image_id: int) -> Image:
    """``process_image`` once this task holds the image's lease."""
    attempts = AI_STEP.count_attempt(image_id)
    if attempts is None:
        return Image.objects.get(pk=image_id)
    if attempts > MAX_AI_ATTEMPTS:
        return _fail(
            image_id,
            f"AI processing stopped after {MAX_AI_ATTEMPTS} attempts (the worker kept "
            "stopping). Staff can retry it.",
        )
    try:
        return _run(Image.objects.select_related("order__preset").get(pk=image_id))
    except (Image.DoesNotExist, DatabaseError, *TRANSIENT):
        raise  # deleted, or Redis or the database is away: the task retries, not the image's fault
    except Exception as exc:
        if is_transient(exc):  # an outage wrapped in another error: still not the image's fault
            raise
        log.exception("AI processing of image %s failed", image_id)
        return _fail(
            image_id,
            f"AI processing failed because of an internal error ({type(exc).__name__}). "
            "Staff can retry it.",
            detail=repr(exc)[:500],
        )


#: ``ai_metadata`` key of a preset a reviewer chose for one image ("redo with another preset").
PRESET_OVERRIDE = "preset_override"
#: ``ai_metadata`` flag of a redo in progress: its provider calls skip the result cache.
REDO = "redo"


def _preset_for(order: Order, image: Image | None = None) -> ProcessingPreset | None:
    """The image's reviewer-chosen preset, else the order's, else the default preset."""
    override = image.ai_metadata.get(PRESET_OVERRIDE) if image is not None else None
    if override:
        chosen = ProcessingPreset.objects.filter(slug=override).first()
        if chosen is not None:
            return chosen
    if order.preset_id is not None:
        return order.preset
    return ProcessingPreset.objects.filter(slug=settings.AI_DEFAULT_PRESET).first()


def _run(image: Image) -> Image:
    preset = _preset_for(image.order, image)
    if preset is None:
        return _finish(
            image,
            {},
            review="The order has no processing preset and the default preset "
            f"{settings.AI_DEFAULT_PRESET!r} does not exist.",
            review_reason=Image.ReviewReason.OTHER,
        )
    operations = [op for op in preset.operations if op in ("analyze", "edit", "caption")]
    fresh = bool(image.ai_metadata.get(REDO))  # a reviewer asked for new work: skip the cache
    chain = _chain()
    results: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
    with _image_input(image) as source:
        for op in operations:
            if op == "analyze" and (image.ai_analyzed or image.status == S.ANALYZED):
                continue  # resuming: the analysis is stored already
            try:
                if op == "analyze":
                    outcome = chain.run("analyze", source, fresh=fresh)
                elif op == "edit":
                    outcome = chain.run(
                        "edit",
                        source,
                        prompt=preset.edit_prompt,
                        aspect=preset.print_aspect or None,
                        fresh=fresh,
                    )
                else:
                    outcome = chain.run(
                        "caption", source, prompt=preset.caption_prompt, fresh=fresh
                    )
            except NoProviderAvailable as exc:
                results[op] = (None, exc.trail)
                return _finish(
                    image,
                    results,
                    review=f"No AI provider could {op}: {_short(exc)}",
                    review_reason=Image.ReviewReason.NO_PROVIDER,
                )
            if op == "analyze":
                stored = _store_analysis(image, *outcome)
                if stored is None:  # another delivery got here first
                    return Image.objects.get(pk=image.pk)
                image = stored
            else:
                results[op] = outcome
    return _finish(image, results, fresh=fresh, **quality_gate(image, preset))


def quality_gate(image: Image, preset: ProcessingPreset) -> dict[str, str]:
    """``_finish``'s review arguments when the preset's quality gate stops the image, else {}.

    Checked once the AI work is done (so an image a reviewer lets through ships edited),
    from the local measures the analysis stored (docs/ai.md, "Quality gate").
    """
    reasons = gate.verdict(preset, image.ai_metadata.get("analyze", {}).get("facts"), image)
    if not reasons:
        return {}
    return {"review": "; ".join(reasons), "review_reason": Image.ReviewReason.QUALITY}


def _chain() -> ProviderChain:
    return limited_chain()


@contextmanager
def _image_input(image: Image):
    storage = image.original.storage
    name = image.original.name
    if not name:
        raise OrderError("The stored original is missing.")
    kwargs = {"width": image.width, "height": image.height, "mime_type": image.mime_type or None}
    # Streamed to the provider from the file (object storage: a temp copy for the call).
    with media.local_path(storage, name, prefix="ai-") as path:
        yield ImageInput.from_path(path, sha256=image.sha256 or None, **kwargs)


def run_once(image: Image, operation: str, *, prompt: str = "") -> tuple[Any, list[dict[str, Any]]]:
    """One operation (``analyze`` or ``caption``) on one image now, through the same provider
    chain as the pipeline, for the API's one-shot endpoints: nothing is stored on the image.

    A caption without ``prompt`` uses the order's preset's. Returns the result and the
    provider trail; raises ``NoProviderAvailable`` when no provider could serve and
    ``OrderError`` when the stored original is missing.
    """
    kwargs: dict[str, Any] = {}
    if operation == "caption":
        if not prompt:
            preset = _preset_for(image.order)
            prompt = preset.caption_prompt if preset is not None else ""
        kwargs["prompt"] = prompt
    chain = _chain()
    try:
        with _image_input(image) as source:
            return chain.run(operation, source, **kwargs)
    except FileNotFoundError:
        raise OrderError(f"The stored original of image {image.pk} is missing.") from None


def _short(exc: NoProviderAvailable) -> str:
    parts = [
        f"{t['provider']} {t['outcome']}" + (f" ({t['reason']})" if t.get("reason") else "")
        for t in exc.trail
    ]
    text = "; ".join(parts) or "no provider is configured"
    return text if len(text) <= 400 else text[:399] + "…"


def _paid(result: Any, trail: list[dict[str, Any]]) -> Decimal:
    """What this result costs the image: a fresh call's price; a result reused from the
    cache costs nothing (counted for the image it was made for), unless that call's image
    never committed it (a worker killed after paying: the cache says "uncharged")."""
    if result is None or not trail:
        return Decimal(0)
    last = trail[-1]
    if last["outcome"] == "ok" or (last["outcome"] == "cache" and last.get("charged") is False):
        return Decimal(str(round(float(result.cost or 0), 6)))
    return Decimal(0)


def _mark_charged_after_commit(trails: list[list[dict[str, Any]]]) -> None:
    """Once the image commits, note in the cache that these results' costs are counted."""
    keys = [
        t[-1]["cache_key"]
        for t in trails
        if t and t[-1].get("cache_key") and t[-1]["outcome"] in ("ok", "cache")
    ]
    if not keys:
        return

    def mark() -> None:
        cache = ResultCache(shared(), ttl=settings.AI_CACHE_TTL_SECONDS)
        try:
            for key in keys:
                cache.mark_charged(key)
        except TRANSIENT:  # the next reuse counts it again: better twice than never
            log.warning("Could not mark %d AI result(s) charged", len(keys))

    transaction.on_commit(mark)


#: ``ai_metadata`` key: the processed file an attempt is about to write, committed before it
#: writes it, so the next attempt deletes what a killed one left (no orphan in MEDIA_ROOT).
FILES_IN_PROGRESS = bookkeeping.FILES_IN_PROGRESS
#: The AI step's bookkeeping in ``Image.ai_metadata`` (attempts, announced files, failing).
AI_STEP = bookkeeping.Step("AI step", "ai_metadata", "attempts", WAITING)


def _store_analysis(image: Image, result: Any, trail: list[dict[str, Any]]) -> Image | None:
    """Record the analysis and move ingested → analyzed; None when the image moved meanwhile."""
    with transaction.atomic():
        _order, locked = locking.lock_image(image.pk, order_id=image.order_id)
        if locked.status != S.INGESTED:
            return None
        meta = dict(locked.ai_metadata)
        meta["analyze"] = {"facts": result.facts, "model": result.model}
        meta["trail"] = {**meta.get("trail", {}), "analyze": trail}
        Image.objects.filter(pk=locked.pk).update(
            ai_metadata=meta, ai_analyzed=True, ai_cost=locked.ai_cost + _paid(result, trail)
        )
        _mark_charged_after_commit([trail])
        _refresh_order_cost(locked.order_id)
        order_services.change_image_status(locked, S.ANALYZED)
    return Image.objects.select_related("order__preset").get(pk=image.pk)


def _as_jpeg(data: bytes, mime_type: str) -> bytes:
    if mime_type == "image/jpeg":
        return data
    with PILImage.open(io.BytesIO(data)) as picture:
        out = io.BytesIO()
        picture.convert("RGB").save(out, format="JPEG", quality=92)
    return out.getvalue()


def _with_caption(jpeg: bytes, results: dict[str, tuple[Any, list[dict[str, Any]]]]) -> bytes:
    """The processed JPEG with the caption in its XMP (docs/ai.md, "Captions in the files")."""
    caption = results.get("caption", (None, []))[0]
    if caption is None:
        return jpeg
    try:
        return embed_caption(
            jpeg, caption=caption.caption, alt_text=caption.alt_text, keywords=caption.keywords
        )
    except ValueError as exc:  # not a walkable JPEG, or a packet over 64 KB: store it as it is
        log.warning("Caption not embedded in the processed file: %s", exc)
        return jpeg


def _finish(
    image: Image,
    results: dict[str, tuple[Any, list[dict[str, Any]]]],
    *,
    review: str = "",
    review_reason: str = "",
    fresh: bool = False,
) -> Image:
    """Store edit and caption results and move the image to processed (or to review).

    ``review`` is the sentence for people, ``review_reason`` its category
    (``Image.ReviewReason``) for the review queue's filter. An edit is first carried to
    the original's full size (``_full_resolution``); ``fresh`` skips cached upscales.
    """
    stored = ""
    full: FullResolution | None = None
    edit = results.get("edit")
    if edit is not None and edit[0] is not None:
        full = _full_resolution(image, edit[0], fresh=fresh)
        data = _with_caption(full.data, results)
        stored = _store_processed(image, data)
    watch: CommitWatch | None = None
    try:
        with transaction.atomic():
            watch = CommitWatch()
            order, locked = locking.lock_image(image.pk, order_id=image.order_id)
            if locked.status != image.status or locked.status not in WAITING:
                if stored:
                    bookkeeping.delete_files_after_commit([stored])
                return locked
            meta = dict(locked.ai_metadata)
            meta.pop("attempts", None)
            meta.pop(REDO, None)
            meta.pop(FILES_IN_PROGRESS, None)
            trails = dict(meta.get("trail", {}))
            cost = locked.ai_cost
            fields: dict[str, Any] = {}
            for op, (result, trail) in results.items():
                trails[op] = trail
                cost += _paid(result, trail)
                if result is None:
                    continue
                if op == "edit":
                    meta["edit"] = {
                        "model": result.model,
                        "mime_type": result.mime_type,
                        "details": result.details,
                    }
                elif op == "caption":
                    meta["caption"] = {
                        "caption": result.caption,
                        "alt_text": result.alt_text,
                        "keywords": list(result.keywords),
                        "model": result.model,
                    }
            if full is not None:
                meta[FULL_RESOLUTION] = full.metadata
                trails.pop(FULL_RESOLUTION, None)  # a redo's earlier answer said otherwise
                if full.trail:  # an answer kept as it is (already full size) needs no line
                    trails[FULL_RESOLUTION] = full.trail
                cost += full.cost
                _mark_charged_after_commit(full.trails)
            meta["trail"] = trails
            if stored:
                fields["processed"] = stored
                previous = locked.processed.name
                if previous and previous != stored:
                    bookkeeping.delete_files_after_commit([previous])
            Image.objects.filter(pk=locked.pk).update(ai_metadata=meta, ai_cost=cost, **fields)
            _mark_charged_after_commit([trail for _result, trail in results.values()])
            _refresh_order_cost(locked.order_id)
            short = "" if review else _print_shortfall(locked.pk)
            if review or short:
                order_services.change_image_status(
                    locked,
                    S.NEEDS_REVIEW,
                    reason=review or short,
                    review_reason=review_reason if review else Image.ReviewReason.PRINT_SIZE,
                )
            else:
                order_services.change_image_status(locked, S.PROCESSED)
            pipeline.ai_settled(order)
    except BaseException:
        if stored and not (watch is not None and watch.committed):  # committed: the row has it
            bookkeeping.delete_files([stored])
        raise
    return Image.objects.get(pk=image.pk)


#: ``ai_metadata`` and trail key of how an edit reached the original's size.
FULL_RESOLUTION = "full_resolution"


@dataclass
class FullResolution:
    """The processed JPEG at the original's size, and how it got there."""

    data: bytes
    metadata: dict[str, Any]
    trail: list[dict[str, Any]]
    trails: list[list[dict[str, Any]]] = dataclass_field(default_factory=list)
    cost: Decimal = Decimal(0)


def _full_resolution(image: Image, result: Any, *, fresh: bool = False) -> FullResolution:
    """The edit at the original's pixel size, never the model's small answer in its place.

    The answer and the original are aligned and a colour transform is fitted on the small
    pair (``ai_processing.fullres``). When it explains the answer (a tonal edit), it is
    applied to the full original, streamed, so the original's detail stays; when it does not
    (the model changed content), the answer is enlarged (``ai_processing.upscale``) in its
    own aspect to at least the original's pixel count and long side
    (``upscale.generative_size``). An answer already at the original's size (the local
    provider's) is kept. If the transfer itself breaks (a bug, an undecodable
    original), the answer is enlarged rather than stored small: said in the trail.
    """
    started = time.perf_counter()
    answer = result.image_bytes
    trail: list[dict[str, Any]] = []
    try:
        with _original_source(image) as source:
            plan = fullres.plan(
                source,
                answer,
                min_psnr=settings.FULLRES_MIN_PSNR,
                max_changed=settings.FULLRES_MAX_CHANGED_SHARE,
            )
            if plan.kind == "full_size":
                return FullResolution(
                    data=_as_jpeg(answer, result.mime_type), metadata=plan.describe(), trail=[]
                )
            if plan.kind == "tonal":
                data = fullres.render(source, plan, quality=settings.FULLRES_JPEG_QUALITY)
                width, height = plan.target_size
                trail.append(
                    _step(
                        "fullres",
                        f"tonal transfer to {width}x{height} (fit {plan.score.psnr:.1f} dB)",
                        started,
                    )
                )
                return FullResolution(data=data, metadata=plan.describe(), trail=trail)
    except (OSError, ValueError, ImageRejected, pyvips.Error, np.linalg.LinAlgError) as exc:
        log.exception("Full-resolution transfer of image %s failed; enlarging", image.pk)
        size = _upright_size(image)
        metadata: dict[str, Any] = {"method": "generative", "transfer_failed": repr(exc)[:300]}
        trail.append(
            _step("fullres", f"transfer failed ({type(exc).__name__}); enlarging", started, "error")
        )
        return _enlarged(answer, size, metadata, trail, fresh=fresh)
    width, height = upscale.generative_size(plan.original_size, plan.answer_size, plan.region.how)
    score = plan.score
    trail.append(
        _step(
            "fullres",
            f"generative edit (fit {score.psnr:.1f} dB, {score.changed_share:.1%} changed); "
            f"enlarging to {width}x{height}",
            started,
        )
    )
    metadata = {**plan.describe(), "region": [round(v, 2) for v in plan.region.as_tuple()]}
    return _enlarged(answer, (width, height), metadata, trail, fresh=fresh)


def _enlarged(
    answer: bytes,
    size: tuple[int, int],
    metadata: dict[str, Any],
    trail: list[dict[str, Any]],
    *,
    fresh: bool,
) -> FullResolution:
    outcome = upscale.enlarge(answer, size[0], size[1], fresh=fresh)
    metadata = {**metadata, "enlarged": outcome.to_metadata()}
    return FullResolution(
        data=outcome.image_bytes,
        metadata=metadata,
        trail=trail + list(outcome.trail),
        trails=list(outcome.trails),
        cost=Decimal(str(outcome.cost)),
    )


def _step(provider: str, reason: str, started: float, outcome: str = "ok") -> dict[str, Any]:
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return {"provider": provider, "outcome": outcome, "reason": reason, "elapsed_ms": elapsed}


def _upright_size(image: Image) -> tuple[int, int]:
    return (image.width or 1, image.height or 1)


@contextmanager
def _original_source(image: Image):
    """The stored original as a ``fullres.Source`` path: the file itself on local storage, a
    temp copy streamed from object storage (libvips seeks) deleted after the step."""
    storage = image.original.storage
    name = image.original.name
    if not name:
        raise OrderError("The stored original is missing.")
    with media.local_path(storage, name, prefix="fullres-") as path:
        yield fullres.Source(path=path)


def _store_processed(image: Image, data: bytes) -> str:
    """Write the processed JPEG under a server-made name announced beforehand (a worker
    killed between the write and the commit leaves a name the next attempt deletes)."""
    name = rendition_upload_path(image, "processed.jpg")
    AI_STEP.announce(image.pk, [name])
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:  # never for a fresh UUID name; a different name is not announced
        bookkeeping.delete_files([saved])
        raise OSError(f"processed file stored as {saved}, not {name}")
    return saved


def _fail(image_id: int, reason: str, *, detail: str = "") -> Image:
    return AI_STEP.fail(
        image_id,
        reason,
        failure={"detail": detail} if detail else None,
        then=lambda _image, order: pipeline.ai_settled(order, new_failure=True),
    )


# --- review queue -------------------------------------------------------------


def _review_lock(image: Image, actor: Any) -> tuple[Order, Image]:
    """Lock order then image, check the reviewer may answer, and that the image waits.

    An image turned down at approval (``ReviewReason.APPROVAL``) may also be answered by
    whoever may approve the order (its user, when the hold allows it: docs/approval.md).
    """
    order, locked = locking.lock_image(image.pk, order_id=image.order_id)
    if actor is not None and not (
        access.can(actor, access.Action.REVIEW, order)
        or (
            locked.review_reason == Image.ReviewReason.APPROVAL
            and access.can(actor, access.Action.APPROVE, order)
        )
    ):
        raise PermissionDenied(f"You may not review images of order {order.order_ref}.")
    if locked.status != S.NEEDS_REVIEW:
        raise OrderError(f"Image {locked.original_filename} is not waiting for review.")
    return order, locked


def approve_image(image: Image, actor: Any = None) -> Image:
    """A reviewer accepts the image as it is: needs_review → processed.

    An image flagged before the AI step ever ran (a near-duplicate found at
    ingest) goes on to the AI step instead (→ ingested, queued). Raises
    ``PermissionDenied`` (not a reviewer of this order) or ``OrderError``.
    """
    with transaction.atomic():
        order, locked = _review_lock(image, actor)
        if not locked.ai_metadata.get("trail"):
            order_services.change_image_status(
                locked, S.INGESTED, actor=actor, reason="approved; on to AI processing"
            )
            if order.status in (Order.Status.PROCESSING, Order.Status.NEEDS_REVIEW):
                queue_image_after_commit(locked.pk)
        else:
            if locked.review_reason == Image.ReviewReason.PRINT_SIZE:  # accepted as it prints
                Image.objects.filter(pk=locked.pk).update(
                    ai_metadata={**locked.ai_metadata, PRINT_SIZE_ACCEPTED: _shortfall_now(locked)}
                )
            order_services.change_image_status(
                locked, S.PROCESSED, actor=actor, reason="approved by a reviewer"
            )
            pipeline.ai_settled(order)
    image.refresh_from_db()
    return image


def redo_image(image: Image, actor: Any = None, *, preset: ProcessingPreset | None = None) -> Image:
    """Send a reviewed image through the AI step again (needs_review → ingested, queued).

    ``preset``, when given, is used for this image instead of the order's (kept
    in ``ai_metadata`` so a retry of the task uses it too); the order's other
    images keep theirs. The redo's provider calls skip the result cache: the
    reviewer asks for new work, not the cached answer they just turned down.

    An image that *failed* in the AI step is retried instead (``retry_failed_image``:
    failed → ingested or analyzed, queued; results already paid for are reused).
    """
    current = Image.objects.only("status", "ingested_at").get(pk=image.pk)
    if current.status == S.FAILED and current.ingested_at is not None and preset is None:
        return retry_failed_image(image, actor)
    with transaction.atomic():
        _order, locked = _review_lock(image, actor)
        reason = "AI processing redone" + (f" with preset {preset.name}" if preset else "")
        order_services.change_image_status(locked, S.INGESTED, actor=actor, reason=reason)
        meta = {k: v for k, v in locked.ai_metadata.items() if k != "attempts"}
        meta[REDO] = True
        if preset is not None:
            meta[PRESET_OVERRIDE] = preset.slug
        Image.objects.filter(pk=locked.pk).update(ai_metadata=meta, ai_analyzed=False)
        queue_image_after_commit(locked.pk)
    image.refresh_from_db()
    return image


def requeue_image(image: Image, actor: Any = None) -> Image:
    """Queue the AI step of an image stuck waiting for it (``ingested`` or ``analyzed``: its
    message lost, its worker killed): staff unstick it without waiting for the sweep. A
    delivery that is still running holds the image's lease, so the extra one steps aside.
    Recorded in the timeline (``image.requeued``). Raises ``PermissionDenied`` or
    ``OrderError`` (the image does not wait for the AI step)."""
    with transaction.atomic():
        order, locked = locking.lock_image(image.pk, order_id=image.order_id)
        if actor is not None and not access.can(actor, access.Action.PROCESS, order):
            raise PermissionDenied(f"You may not process order {order.order_ref}.")
        if locked.status not in WAITING or order.is_closed:
            raise OrderError(f"Image {locked.original_filename} is not waiting for the AI step.")
        meta = {k: v for k, v in locked.ai_metadata.items() if k != "attempts"}
        Image.objects.filter(pk=locked.pk).update(ai_metadata=meta)
        order_services.record_event(
            order, order_services.Kind.IMAGE_REQUEUED, {"image": locked.pk, "step": "ai"}, actor
        )
        queue_image_after_commit(locked.pk)
    image.refresh_from_db()
    return image


#: Formats a hand-edited file may come in (converted to JPEG when not one already).
HAND_EDIT_FORMATS = frozenset({"jpeg", "png", "tiff", "webp"})


def read_hand_edit(data: bytes) -> bytes:
    """Check a hand-edited file and return it as a JPEG; ``ImageRejected`` says what is wrong.

    The same rules as ingest where they matter: the type from the bytes (not
    the name), the size and pixel limits, a full decode so a truncated file is
    refused now rather than at the PMR.
    """
    if len(data) > settings.INGEST_MAX_FILE_BYTES:
        raise ImageRejected(
            f"The file is larger than {settings.INGEST_MAX_FILE_BYTES // (1024 * 1024)} MB.",
            code="too_large",
        )
    kind = sniff(data[:SNIFF_BYTES])
    if kind.format not in HAND_EDIT_FORMATS:
        raise ImageRejected(
            f"A hand-edited file must be JPEG, PNG, TIFF or WebP, not {kind.label}.",
            code="type",
        )
    try:
        with PILImage.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > settings.INGEST_MAX_PIXELS:
                raise ImageRejected("The picture has too many pixels.", code="pixels")
            picture.load()
            if kind.format == "jpeg":
                return data
            out = io.BytesIO()
            picture.convert("RGB").save(out, format="JPEG", quality=92)
            return out.getvalue()
    except (OSError, UnidentifiedImageError, ValueError, PILImage.DecompressionBombError) as exc:
        raise ImageRejected(
            "The file could not be read as a picture (damaged or cut short).",
            code="decode",
            detail=str(exc)[:300],
        ) from None


def replace_with_hand_edit(image: Image, data: bytes, *, filename: str, actor: Any) -> Image:
    """A reviewer uploads a hand-edited file: it becomes the processed version (→ processed).

    The file is checked (``read_hand_edit``), the image's caption (when the AI
    made one) is written into it as for AI edits, and the move is recorded in
    the timeline with who did it; the audit log keeps the field change.
    Raises ``ImageRejected`` for a bad file, ``PermissionDenied``, ``OrderError``.
    """
    jpeg = read_hand_edit(data)
    with transaction.atomic():  # check before storing anything
        _review_lock(image, actor)
    caption = image.ai_metadata.get("caption")
    if caption:
        try:
            jpeg = embed_caption(
                jpeg,
                caption=caption.get("caption", ""),
                alt_text=caption.get("alt_text", ""),
                keywords=caption.get("keywords", []),
            )
        except ValueError as exc:
            log.warning("Caption not embedded in the hand-edited file: %s", exc)
    field = image.processed
    field.save("processed.jpg", ContentFile(jpeg), save=False)
    stored = field.name
    try:
        with transaction.atomic():
            order, locked = _review_lock(image, actor)
            previous = locked.processed.name
            meta = dict(locked.ai_metadata)
            meta["hand_edit"] = {
                "filename": filename[:255],
                "sha256": hashlib.sha256(jpeg).hexdigest(),
                "by": getattr(actor, "pk", None),
                "at": timezone.now().isoformat(),
            }
            locked.processed.name = stored
            locked.ai_metadata = meta
            locked.save(update_fields=["processed", "ai_metadata", "updated_at"])  # audited
            if previous and previous != stored:
                bookkeeping.delete_files_after_commit([previous])
            order_services.change_image_status(
                locked, S.PROCESSED, actor=actor, reason="replaced by a hand-edited file"
            )
            order_services.record_event(
                order, HAND_EDITED, {"image": locked.pk, "filename": filename[:255]}, actor
            )
            pipeline.ai_settled(order)
    except BaseException:
        bookkeeping.delete_files([stored])
        raise
    image.refresh_from_db()
    return image


#: ``metadata["rejection"]["code"]`` of an image a reviewer rejected (ingest uses its own codes).
REJECTED_IN_REVIEW = "review"
#: Every stored file of an image: a rejected image keeps none of them.
FILE_FIELDS = Image.FILE_FIELDS


def reject_image(image: Image, actor: Any = None, *, reason: str = "") -> Image:
    """A reviewer turns the image down (discards a duplicate): needs_review → rejected.

    Rejected is final (``Image.TRANSITIONS``). As ingest does with a refused
    file, the row stays, with the reason (the reviewer's words, else a
    sentence saying who rejected it and, for a near-duplicate, which image it
    repeats) and ``metadata["rejection"]``, while every stored file of the
    image (original, preview, thumbnail, processed) is cleared in the row
    (audited) and deleted after commit: a rejected image holds no bytes, and
    the same file may be uploaded again (the per-order unique constraint
    leaves rejected rows out). The order then settles exactly as after an
    approval: when this was the last image it waited for, it goes back to
    processing and on to the PMR. Raises ``PermissionDenied`` or ``OrderError``.
    """
    reason = " ".join(reason.split())[:500]
    with transaction.atomic():
        order, locked = _review_lock(image, actor)
        stored = locked.stored_files()
        meta = dict(locked.metadata)
        meta["rejection"] = {
            "code": REJECTED_IN_REVIEW,
            "detail": reason,
            "by": getattr(actor, "pk", None),
            "at": timezone.now().isoformat(),
        }
        for name in FILE_FIELDS:
            setattr(locked, name, "")
        locked.metadata = meta
        # A model save (not a queryset update), so the audit log shows the files going.
        locked.save(update_fields=[*FILE_FIELDS, "metadata", "updated_at"])
        order_services.change_image_status(
            locked, S.REJECTED, actor=actor, reason=_rejection_text(locked, reason)
        )
        pipeline.ai_settled(order)
        bookkeeping.delete_files_after_commit(stored)
    image.refresh_from_db()
    return image


def _rejection_text(image: Image, reason: str) -> str:
    """The rejected image's reason; a match in another order is not named (its users may differ)."""
    if reason:
        return f"Rejected by a reviewer: {reason}"
    if image.duplicate_of_id is None:
        return "Rejected by a reviewer."
    match = Image.objects.filter(pk=image.duplicate_of_id).only("order_id", "original_filename")
    match = match.first()
    if match is not None and match.order_id == image.order_id:
        return f"Discarded by a reviewer as a near-duplicate of {match.original_filename}."
    return "Discarded by a reviewer as a near-duplicate of another image of this event."


#: The answers the review queue gives many images at once, by name.
BULK_ANSWERS = ("approve", "reject")
#: Most images one bulk answer takes (a page of the queue holds 24).
MAX_BULK = 200


@dataclass
class BulkProblem:
    """An image a bulk answer could not answer, with the sentence saying why."""

    image_id: int
    message: str
    #: The image no longer waits for review (answered meanwhile, deleted): lists drop it.
    gone: bool


@dataclass
class BulkResult:
    action: str
    done: list[int] = dataclass_field(default_factory=list)
    problems: list[BulkProblem] = dataclass_field(default_factory=list)


def answer_many(
    image_ids: Iterable[int], *, action: str, actor: Any, reason: str = ""
) -> BulkResult:
    """Approve or reject several images, each through ``approve_image`` / ``reject_image``.

    Each image is its own transaction: one that cannot be answered (another
    reviewer answered it first, it was deleted, the actor may not review its
    order) does not undo or stop the others, and gets a sentence instead.
    Images are named only to a user who may view their order. Raises
    ``ValueError`` for an unknown action and ``OrderError`` for more than
    ``MAX_BULK`` images.
    """
    if action not in BULK_ANSWERS:
        raise ValueError(f"Unknown review answer {action!r}.")
    ids = list(dict.fromkeys(image_ids))
    if len(ids) > MAX_BULK:
        raise OrderError(f"Choose at most {MAX_BULK} images at a time.")
    found = Image.objects.select_related("order").in_bulk(ids)
    result = BulkResult(action=action)
    for image_id in ids:
        image = found.get(image_id)
        if image is None:
            result.problems.append(
                BulkProblem(image_id, f"Image {image_id} no longer exists.", gone=True)
            )
            continue
        name = (
            image.original_filename
            if access.can(actor, access.Action.VIEW, image.order)
            else f"Image {image_id}"
        )
        try:
            if action == "approve":
                approve_image(image, actor=actor)
            else:
                reject_image(image, actor=actor, reason=reason)
        except PermissionDenied:
            result.problems.append(
                BulkProblem(image_id, f"{name}: you may not review this order.", gone=False)
            )
        except (Image.DoesNotExist, Order.DoesNotExist):
            result.problems.append(BulkProblem(image_id, f"{name} no longer exists.", gone=True))
        except OrderError:
            now = Image.objects.filter(pk=image_id).values_list("status", flat=True).first()
            label = S(now).label if now else "Deleted"
            label = label[0].lower() + label[1:]  # "synced to PMR", not "synced to pmr"
            result.problems.append(
                BulkProblem(
                    image_id,
                    f"{name} is no longer waiting for review (it is {label} now).",
                    gone=True,
                )
            )
        else:
            result.done.append(image_id)
    return result


# --- on request (the API) -----------------------------------------------------


def request_processing(
    order: Order,
    *,
    actor: Any,
    preset: ProcessingPreset | None = None,
    image_ids: list[int] | None = None,
) -> int:
    """Someone asks for the AI step on ``order``; returns how many images were queued.

    ``preset`` sets or replaces the order's preset, only before the AI step has
    started (else ``OrderError``). A pending, failed or review order moves to
    processing through ``change_order_status`` (the pipeline then queues the
    AI step for every image waiting); an order already processing gets the
    given images (default: every waiting one) queued. ``image_ids`` must be
    images of the order (the caller checks access); those not waiting for AI
    are skipped. Nothing to queue, or a closed or draft order: ``OrderError``.
    Raises ``PermissionDenied`` through the order services.
    """
    with transaction.atomic():
        locked = locking.lock_order(order.pk)
        if not access.can(actor, access.Action.PROCESS, locked):
            raise PermissionDenied("You may not process this order.")
        if locked.is_closed:
            raise OrderError(f"Order {locked.order_ref} is {locked.status}; nothing to process.")
        images = Image.objects.filter(order_id=locked.pk)
        if preset is not None and preset.pk != locked.preset_id:
            if order_services.ai_started(locked):
                raise OrderError(
                    f"Order {locked.order_ref} has started AI processing; its preset can no "
                    "longer change."
                )
            previous = locked.preset.slug if locked.preset_id else None
            Order.objects.filter(pk=locked.pk).update(preset=preset)
            locked.preset = preset
            order_services.record_event(
                locked, PRESET_CHANGED, {"from": previous, "to": preset.slug}, actor
            )
        waiting = images.filter(status__in=WAITING)
        if image_ids is not None:
            waiting = waiting.filter(pk__in=image_ids)
        ids = list(waiting.order_by("pk").values_list("pk", flat=True))
        if not ids:
            raise OrderError(
                f"Order {locked.order_ref}: no image waits for AI processing"
                + (" among those given." if image_ids is not None else ".")
            )
        if locked.status in (Order.Status.PENDING, Order.Status.FAILED, Order.Status.NEEDS_REVIEW):
            # The pipeline queues ``process_order`` on commit (``orders.pipeline.order_moved``).
            order_services.change_order_status(
                locked, Order.Status.PROCESSING, actor=actor, reason="AI processing requested"
            )
            queued = images.filter(status__in=WAITING).count()
        elif locked.status == Order.Status.PROCESSING:
            if image_ids is None:
                queued = start_order_processing(locked.pk)
            else:
                for image_id in ids:
                    queue_image_after_commit(image_id)
                queued = len(ids)
        else:
            raise OrderError(
                f"Order {locked.order_ref} is {locked.status}; it cannot be processed yet."
            )
    order.refresh_from_db()
    return queued


# --- from the order page: retry failed images, reprocess with another preset ---------------

#: Image statuses reprocessing sends back to the AI step (failed ones only after ingest).
REDOABLE = frozenset({S.PROCESSED, S.NEEDS_REVIEW, S.FAILED})


def retry_refused_because(order: Order) -> str:
    """Why the order's failed images cannot be retried now, as a sentence ("" if they can).

    A closed order is final; an order whose AI step is done has been handed to
    the PMR delivery with the images it had, so a retried image would be
    processed but never delivered.
    """
    if order.is_closed:
        return (
            f"Order {order.order_ref} is {order.get_status_display().lower()}; "
            "its failed images can no longer be retried."
        )
    if order.ai_processed:
        return (
            f"Order {order.order_ref} has been handed to the PMR delivery without its failed "
            "images; they can no longer join it. Add them to a new order."
        )
    return ""


def retry_failed_image(image: Image, actor: Any = None) -> Image:
    """Send a failed image through the step that failed again.

    Ingest failures (never ingested) go through ``orders.intake.retry_ingest``;
    AI failures move failed → ingested (or analyzed, when its analysis is stored)
    and are queued after commit; the attempt count starts again and the result
    cache is used (a result paid for before the failure is not paid twice). A
    failed order goes back to processing. Refused (``OrderError`` with a
    sentence) for an image that is not failed and for orders whose failed images
    can no longer be retried (``retry_refused_because``); ``PermissionDenied``
    without the ``process`` right on the order.
    """
    if image.ingested_at is None:
        return intake.retry_ingest(image, actor=actor)
    with transaction.atomic():
        order, locked = locking.lock_image(image.pk, order_id=image.order_id)
        if actor is not None and not access.can(actor, access.Action.PROCESS, order):
            raise PermissionDenied(f"You may not retry images of order {order.order_ref}.")
        if locked.status != S.FAILED:
            raise OrderError(f"{locked.original_filename} has not failed; nothing to retry.")
        refused = retry_refused_because(order)
        if refused:
            raise OrderError(refused)
        back = S.ANALYZED if locked.ai_analyzed else S.INGESTED
        meta = {k: v for k, v in locked.ai_metadata.items() if k not in ("attempts", "failure")}
        Image.objects.filter(pk=locked.pk).update(ai_metadata=meta)
        order_services.change_image_status(
            locked, back, actor=actor, reason="AI processing retried"
        )
        if order.status == Order.Status.FAILED:
            order_services.change_order_status(
                order, Order.Status.PROCESSING, actor=actor, reason="an image is retried"
            )
        if order.status in (
            Order.Status.PENDING,
            Order.Status.PROCESSING,
            Order.Status.NEEDS_REVIEW,
        ):
            queue_image_after_commit(locked.pk)
    image.refresh_from_db()
    return image


def retry_failed_images(order: Order, *, actor: Any) -> tuple[int, list[str]]:
    """Retry every failed image of the order; returns how many went again and, for the
    ones that could not, why (sentences). Each image is its own transaction."""
    if actor is not None and not access.can(actor, access.Action.PROCESS, order):
        raise PermissionDenied(f"You may not retry images of order {order.order_ref}.")
    order.refresh_from_db()
    refused = retry_refused_because(order)
    if refused:
        raise OrderError(refused)
    failed = list(Image.objects.filter(order_id=order.pk, status=S.FAILED).order_by("pk"))
    if not failed:
        raise OrderError(f"Order {order.order_ref} has no failed images.")
    retried, problems = 0, []
    for image in failed:
        try:
            retry_failed_image(image, actor=actor)
        except OrderError as exc:
            problems.append(str(exc))
        else:
            retried += 1
    return retried, problems


def _is_duplicate_hold(image: Image) -> bool:
    """An image held at ingest as a possible duplicate (the AI step never ran on it):
    a manager decides on it; reprocessing must not wave it through."""
    return (
        image.status == S.NEEDS_REVIEW
        and image.duplicate_of_id is not None
        and not image.ai_metadata.get("trail")
    )


def reprocess_refused_because(order: Order, counts: dict[str, int] | None = None) -> str:
    """Why the order cannot be reprocessed now, as a sentence ("" when it can).

    ``counts`` (images per status, e.g. from ``image_counts``) saves a query.
    Closed orders are final; an order handed to the PMR delivery keeps what it
    delivers; images still in the AI's hands would race the new preset; and
    before the AI step has started the preset is simply chosen in the order's
    details.
    """
    if order.is_closed:
        return (
            f"Order {order.order_ref} is {order.get_status_display().lower()}; "
            "its images can no longer be reprocessed."
        )
    if order.ai_processed:
        return (
            f"Order {order.order_ref} has been handed to the PMR delivery; its images can no "
            "longer be reprocessed."
        )
    counts = image_counts(order) if counts is None else counts
    in_work = sum(counts.get(status, 0) for status in Image.IN_WORK)
    if in_work:
        return (
            f"{in_work} image{'s' if in_work != 1 else ''} of {order.order_ref} "
            f"{'are' if in_work != 1 else 'is'} still being processed; reprocess once "
            f"{'they are' if in_work != 1 else 'it is'} done."
        )
    if not any(counts.get(status, 0) for status in REDOABLE):
        return f"Order {order.order_ref} has no processed, failed or reviewed image to redo yet."
    return ""


def image_counts(order: Order) -> dict[str, int]:
    """Images of the order per status (one query)."""
    return dict(
        Image.objects.filter(order_id=order.pk)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )


def reprocess_order(order: Order, *, actor: Any, preset: ProcessingPreset) -> int:
    """Redo the order's images with ``preset`` (it becomes the order's preset); returns how
    many images were sent back to the AI step.

    Processed, reviewed and AI-failed images go back to ``ingested`` (their
    edited file, caption and reviewer's preset are dropped; the analysis is
    kept, it does not depend on the preset) and are queued; the provider calls
    skip the result cache, since the person asks for new work. Images held at
    ingest as possible duplicates stay for a manager. An order in review (or
    failed) moves back to processing. Refused with ``OrderError`` where
    ``reprocess_refused_because`` says so, ``PermissionDenied`` without the
    ``process`` right on the order.
    """
    with transaction.atomic():
        locked = locking.lock_order(order.pk)
        if actor is not None and not access.can(actor, access.Action.PROCESS, locked):
            raise PermissionDenied(f"You may not reprocess order {locked.order_ref}.")
        refused = reprocess_refused_because(locked, image_counts(locked))
        if refused:
            raise OrderError(refused)
        images = [
            image
            for image in locking.lock_images(locked, Image.objects.filter(status__in=REDOABLE))
            if not (image.status == S.FAILED and image.ingested_at is None)
            and not _is_duplicate_hold(image)
        ]
        if not images:
            raise OrderError(
                f"Order {locked.order_ref} has no image to reprocess: its images wait for a "
                "manager's decision or failed before they were ingested."
            )
        previous = locked.preset.slug if locked.preset_id else None
        if locked.preset_id != preset.pk:
            Order.objects.filter(pk=locked.pk).update(preset=preset)
            locked.preset = preset
            order_services.record_event(
                locked, PRESET_CHANGED, {"from": previous, "to": preset.slug}, actor
            )
        reason = f"reprocessing with preset {preset.name}"
        stale: list[str] = []
        for image in images:
            meta = {
                k: v
                for k, v in image.ai_metadata.items()
                if k not in ("attempts", "failure", "edit", "caption", PRESET_OVERRIDE)
            }
            meta[REDO] = True
            if image.processed:
                stale.append(image.processed.name)
            Image.objects.filter(pk=image.pk).update(ai_metadata=meta, processed="")
            order_services.change_image_status(image, S.INGESTED, actor=actor, reason=reason)
        bookkeeping.delete_files_after_commit(stale)
        if locked.status in (
            Order.Status.NEEDS_REVIEW,
            Order.Status.FAILED,
            Order.Status.AWAITING_APPROVAL,
        ):
            # The pipeline queues ``process_order`` on commit (``orders.pipeline.order_moved``).
            order_services.change_order_status(
                locked, Order.Status.PROCESSING, actor=actor, reason=reason
            )
        elif locked.status in (Order.Status.PENDING, Order.Status.PROCESSING):
            for image in images:
                transaction.on_commit(lambda image_id=image.pk: queue_image(image_id))
    order.refresh_from_db()
    return len(images)
