"""Draining an order's outbox: send its rows to the PMR in order, exactly once each.

One drainer per order at a time (a Redis lease, renewed while the drainer
lives). Rows go in ``id`` order; a run of image uploads goes out through a
sliding window of ``PMR_UPLOAD_CONCURRENCY`` calls in flight (their order among
themselves does not matter to the PMR), everything else one by one. A row is
marked done only after the PMR confirmed it, in a transaction that also applies
its effect (image synced, order completed). If the worker dies between
the PMR's answer and that commit, the row is sent again: the PMR answers the
same image PUT (same ``image_ref`` and bytes) with 200 and stores nothing new,
and a repeated write with the same ``Idempotency-Key`` gets the first answer.

Failures: a retryable one (network, 429, 5xx, after the client's own retries)
puts the row back with a growing delay and counts against the circuit breaker;
while the circuit is open nothing is sent and the order shows "waiting for PMR".
A refusal (another 4xx) marks the row failed for a person to look at; the rows
after it wait, because the PMR must see an order's writes in order.
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from PIL import Image as PILImage

from orders import attention, live, locking, pipeline, prints
from orders import services as order_services
from orders.models import Image, Order
from pmr.clients import PMRError, PMRNetworkError
from pmr.clients.bodies import ReplayableBody
from utilities import bulk, durations, media
from utilities.leases import exclusive
from utilities.redis_clients import shared

from . import connection, outbox, status, variants
from .models import OrderDelivery, OutboxEntry
from .timeline import DELIVERED_EVENT, FAILED_EVENT

log = logging.getLogger(__name__)
K = OutboxEntry.Kind
State = OutboxEntry.State


@dataclass
class DrainResult:
    sent: int = 0
    #: When the next attempt is due (None: nothing left, or only failed rows).
    retry_at: datetime | None = None
    busy: bool = False
    blocked: bool = False  # a failed row stops the order's queue
    idle: bool = False  # the order's outbox was empty at the end


@dataclass
class _Call:
    """What one thread needs to make one PMR call: plain data, no ORM objects."""

    entry_id: int
    kind: str
    order_ref: str
    key: str
    payload: dict[str, Any]
    path: media.StoredContent | str = ""  # the stored file to send (none for order calls)
    content_type: str = ""
    filename: str = ""
    sha256: str = ""
    metadata: dict[str, Any] | None = None
    #: Contract 1.6: which file of the image (None: a row from before variants, no header).
    variant: str | None = None
    print_size: str | None = None
    dpi: int | None = None
    #: A print's JPEG, made when the upload starts (``PrintRendition.render``; no ORM).
    render: Callable[[], bytes] | None = None
    #: Bounds the renders of one upload run (``PMR_RENDER_CONCURRENCY``): each holds a crop.
    render_gate: threading.BoundedSemaphore | None = None
    #: Why this file cannot be sent (answered as a refusal, for a person to look at).
    refusal: PMRError | None = None


def drain_order(order_id: int) -> DrainResult:
    """Send what the order's outbox holds now, as far as the PMR lets us."""
    with _lease(order_id) as held:
        if not held:
            # Another drainer has the order; if it died, its lease runs out by itself (it is
            # renewed only while its holder runs): come back then, or sooner.
            ttl = shared().pttl(_lease_key(order_id))
            wait = max(1.0, min(ttl / 1000 if ttl > 0 else 1.0, _lease_seconds()))
            return DrainResult(busy=True, retry_at=timezone.now() + timedelta(seconds=wait))
        result = _drain(order_id)
    if result.idle and _due_rows(order_id):
        # A row was committed after our last look and its drain message found us busy.
        result.retry_at = timezone.now()
    return result


def _lease_seconds() -> float:
    return float(settings.PMR_DRAIN_LEASE_SECONDS)


def _lease_key(order_id: int) -> str:
    return f"rkh:pmr:drain:{order_id}"


@contextmanager
def _lease(order_id: int) -> Iterator[bool]:
    """One drainer per order: a lease of ``PMR_DRAIN_LEASE_SECONDS``, renewed while the drain
    runs (however long one batch of uploads takes), so a drainer killed mid-order frees the
    order within one lease period, not after the longest possible drain."""
    with exclusive(shared(), _lease_key(order_id), _lease_seconds(), renew=True) as held:
        yield held


def _due_rows(order_id: int) -> bool:
    return OutboxEntry.objects.filter(
        order_id=order_id, state=State.PENDING, next_attempt_at__lte=timezone.now()
    ).exists()


def _drain(order_id: int) -> DrainResult:
    result = DrainResult()
    breaker = connection.breaker()
    while True:
        rows = list(
            OutboxEntry.objects.filter(order_id=order_id)
            .exclude(state__in=OutboxEntry.FINAL)
            .select_related("order", "image")
            .order_by("id")[:1]
        )
        if not rows:
            _set_waiting(order_id, None)
            result.idle = True
            return result
        head = rows[0]
        if head.state == State.FAILED:
            result.blocked = True
            return result
        now = timezone.now()
        if head.next_attempt_at and head.next_attempt_at > now:
            result.retry_at = head.next_attempt_at
            return result
        if head.kind == K.ORDER_FINISH:
            _finish(head)
            continue
        state = breaker.state(connection.BREAKER_NAME)["state"]
        if not breaker.allow(connection.BREAKER_NAME):
            retry_at = now + timedelta(seconds=settings.PMR_BREAKER_COOLDOWN_SECONDS)
            _postpone(order_id, retry_at)
            _set_waiting(order_id, "The PMR is unreachable (circuit open); waiting to retry.")
            result.retry_at = retry_at
            return result
        if head.kind == K.IMAGE_PUT and state == "closed":
            # A run of uploads: a sliding window of PMR_UPLOAD_CONCURRENCY calls in flight.
            stop = _upload_run(order_id, head, breaker, result)
        else:
            # One call alone (and only the probe while the circuit is half-open).
            outcome = _call(_prepare(head))
            stop = _settle(order_id, [(head, outcome)], breaker, result)
        if stop:
            return result
        _set_waiting(order_id, None)


#: Rows prepared ahead of the answers, in windows (``PMR_UPLOAD_CONCURRENCY`` rows each): the
#: upload threads never wait for this thread to prepare their next file.
PREPARE_AHEAD_WINDOWS = 4
#: Answers are recorded at most this often (seconds): one transaction (one lock of the order,
#: one recount, one timeline entry) for every answer that came in meanwhile. A worker killed
#: before recording sends those files again, which the PMR answers without storing anything.
RECORD_INTERVAL_SECONDS = 0.1


def _upload_run(order_id: int, head: OutboxEntry, breaker, result: DrainResult) -> bool:
    """Upload the run of due image rows that starts at ``head`` with ``PMR_UPLOAD_CONCURRENCY``
    calls in flight: each upload thread takes the next file as soon as its last one is
    answered (a sliding window: no batch waits for its slowest upload). This thread keeps
    the window fed and records the answers: it prepares rows a few windows ahead of the
    answers (the first uploads start after one window is prepared, not after the whole
    order), and records what came in every ``RECORD_INTERVAL_SECONDS`` in one transaction.
    After a failure no new upload starts; those in flight are recorded. Returns True when a
    failure stops the order's queue for now."""
    ids = _due_uploads(order_id, head)
    width = max(1, min(int(settings.PMR_UPLOAD_CONCURRENCY), len(ids)))
    # The threads get plain data (_Call) and pass the row back untouched: no ORM in threads.
    todo: SimpleQueue = SimpleQueue()
    answers: SimpleQueue = SimpleQueue()
    halt = threading.Event()
    known = _RunFacts(printed=prints.order_has_prints(order_id))
    gate = threading.BoundedSemaphore(max(1, int(settings.PMR_RENDER_CONCURRENCY)))
    loaded: deque[OutboxEntry] = deque()  # read, not queued yet
    read = 0  # how many of ids were read
    queued = 0
    closed = False

    def feed(up_to: int) -> None:
        """Prepare and queue rows until ``up_to`` are queued; then (or after a failure) one
        end-marker per thread. Rows are read as they are needed: the first window alone, so
        the first uploads start at once, then a few windows at a time."""
        nonlocal read, queued, closed
        while queued < up_to and not halt.is_set():
            if not loaded:
                if read == len(ids):
                    break
                chunk = ids[read : read + (width if read == 0 else PREPARE_AHEAD_WINDOWS * width)]
                read += len(chunk)
                loaded.extend(_load_rows(chunk))
                continue
            row = loaded.popleft()
            call = _prepare(row, known)
            call.render_gate = gate
            todo.put((row, call))
            queued += 1
        if not closed and ((read == len(ids) and not loaded) or halt.is_set()):
            for _ in range(width):
                todo.put(None)
            closed = True

    def uploader() -> None:
        while True:
            item = todo.get()
            if item is None or halt.is_set():
                return
            row, call = item
            outcome, seen = _timed_call(call)
            if isinstance(outcome, PMRError):
                halt.set()
            answers.put((row, outcome, seen))

    feed(width)
    threads = [
        threading.Thread(target=uploader, name=f"pmr-upload-{i}", daemon=True) for i in range(width)
    ]
    for thread in threads:
        thread.start()
    stop = False
    answered = 0
    batch: list[tuple[OutboxEntry, Any, tuple[float, dict[str, str]]]] = []
    recorded_at = time.monotonic()
    while True:
        feed(answered + len(batch) + PREPARE_AHEAD_WINDOWS * width)
        with suppress(Empty):
            batch.append(answers.get(timeout=0.02))
        while True:  # whatever else has arrived
            try:
                batch.append(answers.get_nowait())
            except Empty:
                break
        finished = not any(thread.is_alive() for thread in threads) and answers.empty()
        due = time.monotonic() - recorded_at >= RECORD_INTERVAL_SECONDS
        if batch and (finished or due or halt.is_set()):
            outcomes = [(row, outcome) for row, outcome, _ in batch]
            stop = _settle(order_id, outcomes, breaker, result) or stop
            durations.observe_many("pmr_call", [seen for _, _, seen in batch])
            answered += len(batch)
            batch = []
            recorded_at = time.monotonic()
        if finished and not batch:
            break
    for thread in threads:
        thread.join()
    return stop


def _due_uploads(order_id: int, head: OutboxEntry) -> list[int]:
    """The ids of the run of due upload rows that starts at ``head`` (up to the first row of
    another kind, or one not due yet: the PMR sees an order's writes in order). Only ids:
    the rows themselves are read window by window (``_load_rows``) while uploads run."""
    now = timezone.now()
    ids: list[int] = []
    candidates = (
        OutboxEntry.objects.filter(order_id=order_id, id__gte=head.pk)
        .exclude(state__in=OutboxEntry.FINAL)
        .order_by("id")
        .values_list("pk", "kind", "state", "next_attempt_at")
    )
    for pk, kind, state, next_attempt_at in candidates.iterator(chunk_size=2000):
        if kind != K.IMAGE_PUT or state != State.PENDING:
            break
        if next_attempt_at and next_attempt_at > now:
            break
        ids.append(pk)
    return ids


def _load_rows(ids: list[int]) -> list[OutboxEntry]:
    """These rows with their order and image, in ``ids`` order; one that was settled or
    deleted since ``_due_uploads`` (a person skipped it, the order was removed) is left out."""
    found = (
        OutboxEntry.objects.filter(state=State.PENDING)
        .select_related("order", "image")
        .in_bulk(ids)
    )
    return [found[pk] for pk in ids if pk in found]


def _settle(order_id: int, outcomes: list[tuple[OutboxEntry, Any]], breaker, result) -> bool:
    """Record answers and failures; True when a failure stops the queue for now."""
    answers = [(row, outcome) for row, outcome in outcomes if not isinstance(outcome, PMRError)]
    if answers:
        breaker.record_success(connection.BREAKER_NAME)
        _record_successes(order_id, answers)
        result.sent += len(answers)
    stop = False
    for row, outcome in outcomes:
        if isinstance(outcome, PMRError):
            stop = True
            retry_at = _record_failure(row, outcome, breaker)
            if retry_at is None:
                result.blocked = True
            elif result.retry_at is None or retry_at < result.retry_at:
                result.retry_at = retry_at
    return stop


# --- one call ------------------------------------------------------------------------------


@dataclass
class _RunFacts:
    """What the files of one upload run share, read once for the run, not once per file."""

    #: Anything physical ordered in the order (``prints.order_has_prints``)? When not, no
    #: image is asked for its print renditions or its ordered sizes (two queries each).
    printed: bool = True
    #: Per image: its print renditions, one ``print_renditions()`` for all its files.
    renditions: dict[int, list] = field(default_factory=dict)
    #: ``prints.physical_sizes()`` (read at the first digital-only file) and, per pixel
    #: size, what a digital-only file of that size states (a camera's files share one).
    sizes: list | None = None
    digital: dict[tuple[int | None, int | None], dict[str, Any]] = field(default_factory=dict)

    def digital_facts(self, image: Image, width: int | None, height: int | None) -> dict:
        if self.printed:  # the image may have lines of its own: ask it
            return variants.digital_facts(image, width, height)
        if (width, height) not in self.digital:
            if self.sizes is None:
                self.sizes = prints.physical_sizes()
            self.digital[width, height] = variants.digital_facts(
                image, width, height, prints_ordered=False, sizes=self.sizes
            )
        return self.digital[width, height]


def _prepare(row: OutboxEntry, known: _RunFacts | None = None) -> _Call:
    """What the upload thread needs to send ``row`` (this thread: ORM reads happen here).
    ``known``: what the run's files share (without it, every file asks for itself)."""
    known = known or _RunFacts()
    call = _Call(row.pk, row.kind, row.order.order_ref, row.idempotency_key, dict(row.payload))
    if row.kind != K.IMAGE_PUT:
        return call
    image = row.image
    call.metadata = image_metadata(image)
    stem = Path(image.original_filename).stem or f"image-{image.pk}"
    spec = variants.spec_of(row.payload)
    if spec is None:  # a row from before variants: the edited file, else the original
        stored = image.processed if image.processed else image.original
        call.path = media.StoredContent(stored.storage, stored.name)
        processed = bool(image.processed)
        call.content_type = "image/jpeg" if processed else (image.mime_type or "image/jpeg")
        call.filename = f"{stem}.jpg" if processed else image.original_filename
        call.sha256 = "" if processed else image.sha256
        return call
    call.variant, call.print_size = spec.variant, spec.print_size
    ordered = _renditions(image, known.renditions) if known.printed else []
    if spec.variant == variants.ORIGINAL:
        # The untouched bytes the studio received: their SHA-256 from intake is declared,
        # so the PMR refuses (422) anything else.
        call.path = media.StoredContent(image.original.storage, image.original.name)
        call.content_type = image.mime_type or "image/jpeg"
        call.filename = image.original_filename
        call.sha256 = image.sha256
        call.dpi = variants.whole_file_dpi(image.width, image.height, ordered)
        if call.dpi is None and not ordered:  # digital only: pixels and the largest print
            call.metadata = {
                **call.metadata,
                **known.digital_facts(image, image.width, image.height),
            }
    elif spec.variant == variants.EDITED:
        if not image.processed:
            call.refusal = _unsendable("the image has no edited file any more", "file_missing")
            return call
        call.path = media.StoredContent(image.processed.storage, image.processed.name)
        call.content_type = "image/jpeg"
        call.filename = f"{stem}-edited.jpg"
        width, height = pixel_size(call.path)
        call.dpi = variants.whole_file_dpi(width, height, ordered)
        call.metadata = {**call.metadata, "width": width, "height": height}
        if call.dpi is None and not ordered:  # digital only: pixels and the largest print
            call.metadata = {**call.metadata, **known.digital_facts(image, width, height)}
    else:
        rendition = next((r for r in ordered if r.size_code == spec.print_size), None)
        if rendition is None:
            call.refusal = _unsendable(
                f"the print size {spec.print_size} is no longer ordered for this image, or its "
                "crop cannot be worked out; skip this write",
                "print_size_gone",
            )
            return call
        call.render = rendition.render
        call.content_type = "image/jpeg"
        call.filename = f"{stem}-print-{spec.print_size}.jpg"
        call.dpi = rendition.dpi
        call.metadata = {**call.metadata, "width": rendition.width, "height": rendition.height}
    call.metadata = {**call.metadata, "variant": spec.variant, "print_size": spec.print_size}
    return call


def _renditions(image: Image, cache: dict[int, list]) -> list:
    """The image's print renditions (not rendered yet), once per image and upload run.

    Their crops cannot always be worked out (an unreadable file): then there are none here,
    the original and the edited file state no DPI and a print row is refused for a person
    (``print_size_gone``), instead of the whole drain failing."""
    if image.pk not in cache:
        cache[image.pk] = variants.renditions_of(image)
    return cache[image.pk]


def pixel_size(content: media.StoredContent) -> tuple[int | None, int | None]:
    """A JPEG's pixel size from its header (the file is not decoded, nor fetched whole)."""
    try:
        with content.open() as stream:
            head = io.BytesIO(stream.read(_HEADER_BYTES))
        with PILImage.open(head) as picture:
            return picture.size
    except OSError:
        return None, None


#: Enough of a JPEG to reach its frame header past the EXIF and ICC segments.
_HEADER_BYTES = 1024 * 1024


def _unsendable(reason: str, code: str) -> PMRError:
    return PMRError(f"this file cannot be sent: {reason}", code=code)


def image_metadata(image: Image) -> dict[str, Any]:
    """What the PMR keeps with an image (``X-Image-Metadata``): captions and the AI's facts."""
    ai = image.ai_metadata if isinstance(image.ai_metadata, dict) else {}
    caption = ai.get("caption") or {}
    facts = (ai.get("analyze") or {}).get("facts") or {}
    return {
        "original_filename": image.original_filename,
        "width": image.width,
        "height": image.height,
        "caption": caption.get("caption"),
        "alt_text": caption.get("alt_text"),
        "keywords": caption.get("keywords") or [],
        "quality": {k: facts[k] for k in ("sharpness", "exposure", "noise") if k in facts},
        "edited_by": (ai.get("edit") or {}).get("model")
        or ("hand" if ai.get("hand_edit") else None),
    }


def _call(call: _Call) -> Any:
    """One PMR call: the PMR's answer, or the ``PMRError`` it came to; its duration counted by
    kind and outcome (``ok``, ``retryable``: waits and counts against the circuit, or
    ``refused``: a person looks at it)."""
    outcome, seen = _timed_call(call)
    durations.observe_many("pmr_call", [seen])
    return outcome


def _timed_call(call: _Call) -> tuple[Any, tuple[float, dict[str, str]]]:
    """The call's outcome and its observation for ``durations`` (not recorded here: the upload
    threads hand theirs to the drain's thread, which records a batch in one round trip)."""
    started = time.perf_counter()
    outcome = _answer(call)
    label = (
        "ok"
        if not isinstance(outcome, PMRError)
        else "retryable"
        if outcome.retryable
        else "refused"
    )
    return outcome, (time.perf_counter() - started, {"kind": call.kind, "outcome": label})


def _answer(call: _Call) -> Any:
    client = connection.client()
    try:
        if call.kind == K.ORDER_PUT:
            return client.put_order(call.order_ref, call.payload, call.key)[1]
        if call.kind == K.ORDER_STATUS:
            return client.patch_order_status(
                call.order_ref, call.payload["status"], call.payload.get("note") or None, call.key
            )
        if call.kind == K.IMAGE_PUT:
            return _put_file(client, call)
        raise ValueError(f"unknown outbox kind {call.kind!r}")
    except PMRError as exc:
        return exc
    except FileNotFoundError as exc:
        return PMRError(f"the image file is missing: {exc.filename}", code="file_missing")
    except OSError as exc:  # e.g. a socket error httpx did not wrap
        return PMRNetworkError(f"{type(exc).__name__}: {exc}")


def _put_file(client, call: _Call) -> Any:
    """One file of an image. An original's bytes never change, so the row's key is sent as it
    is; an edited file or a print may be made again (a redo, a crop moved by hand), so their
    key also names the bytes: a resend of the same bytes replays the PMR's first answer, new
    bytes are a new write (and never an idempotency conflict that blocks the order)."""
    if call.refusal is not None:
        return call.refusal
    content: Any = call.path
    sha256, key = call.sha256 or None, call.key
    if call.render is not None:
        try:
            with call.render_gate or nullcontext():
                content = call.render()
        except FileNotFoundError:
            raise
        except Exception as exc:  # libvips/Pillow could not make the print: a person looks
            return PMRError(f"the print could not be rendered: {exc}", code="render_failed")
        sha256 = hashlib.sha256(content).hexdigest()
    elif call.variant == variants.EDITED:
        sha256 = ReplayableBody(call.path).sha256()
    if call.variant in (variants.EDITED, variants.PRINT):
        key = f"{call.key}:{sha256[:16]}"
    return client.put_image(
        call.order_ref,
        call.payload["image_ref"],
        content,
        content_type=call.content_type,
        filename=call.filename,
        idempotency_key=key,
        sha256=sha256,
        metadata=call.metadata,
        variant=call.variant,
        print_size=call.print_size,
        dpi=call.dpi,
    )[1]


# --- recording -----------------------------------------------------------------------------


def _record_successes(order_id: int, answers: list[tuple[OutboxEntry, Any]]) -> None:
    """Mark confirmed rows done and apply their effects, in one transaction.

    Locks in the project's order (order, then outbox rows, delivery, images) so a drain
    never deadlocks with the order services or the webhook task. A batch of uploads costs a
    fixed number of queries, whatever its size: the rows and the images' URLs in one
    ``bulk_update`` each, the images that are now complete moved to ``synced`` together
    (one recount, one timeline entry: ``mark_synced``), the delivery saved only when
    something of it changed.
    """
    with transaction.atomic():
        locking.lock_order(order_id, fields=["pk"])
        ids = [row.pk for row, _ in answers]
        open_ids = set(
            OutboxEntry.objects.select_for_update()
            .filter(pk__in=ids)
            .exclude(state__in=OutboxEntry.FINAL)
            .values_list("pk", flat=True)
        )
        answers = [(row, answer) for row, answer in answers if row.pk in open_ids]
        if not answers:
            return
        now = timezone.now()
        done = [row for row, _ in answers]
        for row, answer in answers:
            row.state, row.done_at, row.last_error = State.DONE, now, {}
            row.response = answer if isinstance(answer, dict) else {}
        # What every row gets in one plain UPDATE; only the answers differ per row (a
        # bulk_update of five fields cost more CPU in Django than the queries themselves:
        # utilities.bulk).
        OutboxEntry.objects.filter(pk__in=[row.pk for row in done]).update(
            state=State.DONE, done_at=now, last_error={}, attempts=F("attempts") + 1, updated_at=now
        )
        bulk.update_column(OutboxEntry, "response", {row.pk: row.response for row in done})
        if any(row.kind == K.ORDER_PUT for row, _ in answers):
            outbox.forget_sent_personal_data(order_id)
        delivery, _ = OrderDelivery.objects.select_for_update().get_or_create(order_id=order_id)
        before = (delivery.pmr_order_id, delivery.pmr_status, delivery.pmr_changed_at)
        for row, answer in answers:
            answer = answer if isinstance(answer, dict) else {}
            if row.kind == K.ORDER_PUT and answer.get("pmr_order_id"):
                delivery.pmr_order_id = str(answer["pmr_order_id"])[:100]
            elif row.kind == K.ORDER_STATUS:
                _pushed_status(delivery, row, answer)
        uploads = [row for row, _ in answers if row.kind == K.IMAGE_PUT and row.image_id]
        mark_synced(
            {row.image_id for row in uploads},
            {
                row.image_id: str(row.response.get("url", ""))[:500]
                for row in uploads
                if variants.spec_of(row.payload) in (None, variants.FileSpec(variants.ORIGINAL))
            },
        )
        after = (delivery.pmr_order_id, delivery.pmr_status, delivery.pmr_changed_at)
        if delivery.last_error or after != before:
            delivery.last_error = ""
            delivery.save()
        live.ring(order_id)  # the PMR box: the PMR's status of the order may have changed


def _pushed_status(delivery: OrderDelivery, row: OutboxEntry, answer: dict[str, Any]) -> None:
    """The PMR took our status: it is the PMR's status now, unless the PMR moved the order
    on since (a webhook applied while this answer was on its way, or a replayed old answer)."""
    changed_at = status.parse_when(answer.get("updated_at"))
    if delivery.pmr_changed_at and changed_at and changed_at <= delivery.pmr_changed_at:
        return
    delivery.pmr_status = str(answer.get("status") or row.payload.get("status", ""))[:20]
    delivery.pmr_changed_at = changed_at or delivery.pmr_changed_at


def mark_synced(image_ids: set[int], urls: dict[int, str] | None = None) -> None:
    """Files of these images reached the PMR (or a person skipped one): the original's URL
    is the image's; an image is SYNCED (through the order service) once its original is in
    the PMR and none of its files is left to send. An image whose original was skipped was
    left out of the delivery and stays as it is. The images of one order that are complete
    move together (``order_services.change_images_status``: one recount, one timeline
    entry for the batch, not one per image)."""
    if not image_ids:
        return
    if urls:
        bulk.update_column(Image, "pmr_url", urls)
    uploads = OutboxEntry.objects.filter(kind=K.IMAGE_PUT, image_id__in=image_ids)
    waiting = uploads.exclude(state__in=OutboxEntry.FINAL).values("image_id")
    in_pmr = uploads.filter(outbox.PRIMARY_UPLOAD, state=State.DONE).values("image_id")
    complete = (
        Image.objects.filter(pk__in=image_ids, status=Image.Status.PROCESSED)
        .filter(pk__in=in_pmr)
        .exclude(pk__in=waiting)
        .values_list("order_id", "pk")
    )
    by_order: dict[int, list[int]] = {}
    for order_id, pk in complete:
        by_order.setdefault(order_id, []).append(pk)
    for order_id, pks in sorted(by_order.items()):
        # No reason: the status itself says "Delivered to the PMR" (the image card showed
        # both that and "uploaded to the PMR"; one sentence is enough).
        order_services.change_images_status(
            order_id, pks, Image.Status.PROCESSED, Image.Status.SYNCED
        )


def _record_failure(row: OutboxEntry, error: PMRError, breaker) -> datetime | None:
    """Put the row back for later (retryable) or mark it failed; the retry time or None."""
    retry_at = None
    with transaction.atomic():
        locking.lock_order(row.order_id, fields=["pk"])  # the order first (orders.locking)
        locked = OutboxEntry.objects.select_for_update().get(pk=row.pk)
        if locked.state != State.PENDING:
            return None
        locked.attempts += 1
        locked.last_error = error.as_dict()
        if error.retryable:
            delay = min(
                settings.PMR_RETRY_MAX_SECONDS,
                settings.PMR_RETRY_BASE_SECONDS * 2 ** min(locked.attempts - 1, 16),
            )
            retry_at = timezone.now() + timedelta(seconds=delay * (0.75 + random.random() / 2))  # noqa: S311
            locked.next_attempt_at = retry_at
        else:
            locked.state = State.FAILED
        locked.save(update_fields=["attempts", "last_error", "next_attempt_at", "state"])
        delivery, _ = OrderDelivery.objects.select_for_update().get_or_create(order_id=row.order_id)
        delivery.last_error = str(error)[:1000]
        if error.retryable and delivery.waiting_since is None:
            delivery.waiting_since = timezone.now()
        delivery.save()
        live.ring(row.order_id)  # the PMR box: "waiting for PMR" or the refusal
        if not error.retryable:
            order_services.record_event(
                row.order,
                FAILED_EVENT,
                {
                    "entry": row.pk,
                    "kind": row.kind,
                    "image": row.image_id,
                    "file": variants.file_facts(row.payload) if row.kind == K.IMAGE_PUT else None,
                    "error": str(error)[:300],
                },
            )
    if error.retryable:
        breaker.record_failure(connection.BREAKER_NAME)
    else:  # the PMR answered: no verdict on its reachability; free a half-open probe
        breaker.release(connection.BREAKER_NAME)
    log.warning("PMR %s for order %s failed: %s", row.kind, row.order_id, error)
    return retry_at


def delivered_files(order_id: int) -> dict[str, int]:
    """How many files of each variant the PMR confirmed for the order (a row from before
    variants counts as the image's original: it was the image's one file)."""
    counts = dict.fromkeys(variants.VARIANTS, 0)
    done = OutboxEntry.objects.filter(order_id=order_id, kind=K.IMAGE_PUT, state=State.DONE)
    for payload in done.values_list("payload", flat=True):
        spec = variants.spec_of(payload or {})
        counts[spec.variant if spec else variants.ORIGINAL] += 1
    return counts


def _postpone(order_id: int, until: datetime) -> None:
    """The circuit is open: the order's due rows wait until it may close (so the beat sweep
    does not queue the order again every round while the PMR is away)."""
    OutboxEntry.objects.filter(
        order_id=order_id, state=State.PENDING, next_attempt_at__lt=until
    ).update(next_attempt_at=until)


def _set_waiting(order_id: int, reason: str | None) -> None:
    """Offline mode on (the PMR cannot be reached) or off (rows move again)."""
    if reason is None:
        moved = OrderDelivery.objects.filter(order_id=order_id, waiting_since__isnull=False).update(
            waiting_since=None
        )
    else:
        moved = OrderDelivery.objects.filter(order_id=order_id, waiting_since__isnull=True).update(
            waiting_since=timezone.now(), last_error=reason
        )
    if moved:  # no timeline entry says it: the order page's PMR box and the dashboards'
        live.ring(order_id)  # "Needs attention" must look again
        transaction.on_commit(attention.changed, robust=True)


def _finish(row: OutboxEntry) -> None:
    """Every write before this row is done: the order is delivered and completes."""
    with transaction.atomic():
        order = locking.lock_order(row.order_id)
        locked = OutboxEntry.objects.select_for_update().get(pk=row.pk)
        if locked.state != State.PENDING:
            return
        locked.state, locked.done_at = State.DONE, timezone.now()
        locked.attempts += 1
        locked.save(update_fields=["state", "done_at", "attempts"])
        Order.objects.filter(pk=order.pk).update(pmr_synced=True)
        synced = Image.objects.filter(order_id=order.pk, status=Image.Status.SYNCED).count()
        order_services.record_event(
            order, DELIVERED_EVENT, {"images": synced, "files": delivered_files(order.pk)}
        )
        pipeline.delivered(order)  # completes; "completed" goes to the outbox after this row
