"""Every write about orders: creation, status changes, timeline, counters.

Each function is one use case in one transaction. It checks the actor's access
through ``utilities.access`` when an actor is given (tasks act as the system and
pass none), refuses state changes the models do not allow, and records an
``OrderEvent`` so the timeline and live views see every change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError, Q, RestrictedError
from django.utils import timezone

from events import lookups
from events.models import Event
from utilities import access, audit, media
from utilities.errors import OrderError, TransitionNotAllowed

from . import locking, pipeline
from .models import Image, Order, OrderEvent, OrderRefSequence

log = logging.getLogger(__name__)

Kind = OrderEvent.Kind


def _require(actor: Any, action: access.Action, order: Order) -> None:
    if actor is not None and not access.can(actor, action, order):
        raise PermissionDenied(f"You may not {action.value} order {order.order_ref}.")


#: For other services of the orders app: refuse (``PermissionDenied``) an actor who may not
#: take ``action`` on the order; ``None`` (a task, the system) may.
access_check = _require


def next_order_ref(year: int) -> str:
    """Hand out the next ``ORD-<year>-<nnnnnn>``; call inside a transaction.

    The per-year row is locked, so concurrent creations get distinct numbers.
    """
    for _ in range(3):
        try:
            with transaction.atomic():
                seq, _ = OrderRefSequence.objects.select_for_update().get_or_create(year=year)
                break
        except IntegrityError:  # another transaction created the year's row first
            continue
    else:  # pragma: no cover - three lost races in a row
        raise OrderError("Could not allocate an order reference; please retry.")
    seq.last_value += 1
    seq.save(update_fields=["last_value"])
    return f"ORD-{year}-{seq.last_value:06d}"


def record_event(
    order: Order, kind: str, payload: dict | None = None, actor: Any = None
) -> OrderEvent:
    """Append to the order's timeline with the next per-order number.

    Locks the order row, so numbers have no gaps or repeats under concurrency.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update().only("id", "last_event_seq").get(pk=order.pk)
        seq = locked.last_event_seq + 1
        Order.objects.filter(pk=order.pk).update(last_event_seq=seq)
        order.last_event_seq = seq
        return OrderEvent.objects.create(
            order_id=order.pk,
            seq=seq,
            kind=kind,
            payload=payload or {},
            actor=actor if getattr(actor, "is_authenticated", False) else None,
        )


def create_order(
    *,
    actor: Any,
    event: Event | str,
    customer_name: str,
    customer_email: str = "",
    notes: str = "",
    assigned_to: Any = None,
    order_date=None,
    metadata: dict | None = None,
    preset: Any = None,
    awaiting_submit: bool = False,
    expected_images: int | None = None,
) -> Order:
    """A new order (draft) for ``event``; every way of creating orders comes through here.

    ``event``: a registered ``Event``, or an Event ID as a person typed it or a client sent
    it (forms and serializers check only its shape). An ID registered here is taken (exact
    match first, then regardless of case); one only the PMR knows is brought over in the
    order's own transaction, so a refused request leaves no ``Event`` behind; one nobody
    knows is ``UnknownEvent`` (a ``FieldRefused`` naming ``event``).

    ``awaiting_submit``: the order's files come from a system that will say when it sent
    them all (the REST API, a folder import); the order does not start before that, or
    before ``expected_images`` files arrived (``orders.pipeline.files_still_coming``).

    Before anything is written, the PMR is asked (cached, one short attempt) whether
    the event is open: an event the PMR knows to be closed, or does not know, takes no
    orders (``OrderError`` with a sentence). When the PMR cannot answer, an order for a
    registered event is made anyway (offline mode) and the delivery checks again. The
    customer's PMR id is looked up by e-mail the same way and kept in
    ``metadata["pmr_customer_id"]``.
    """
    if not access.can_create_order(actor):
        raise PermissionDenied("You may not create orders.")
    metadata = client_metadata(metadata, current=None)
    local = event if isinstance(event, Event) else lookups.local_event(event)
    event_id = local.event_id if local is not None else event.strip()
    if local is None and not lookups.well_formed(event_id):
        raise lookups.UnknownEvent(event_id)
    check = lookups.check_event(event_id)
    if local is None and not check.found:
        raise lookups.UnknownEvent(event_id)
    if check.reachable and not check.found:
        raise OrderError(f"Event {event_id} is not known to the PMR; check the Event ID there.")
    if check.reachable and not check.open:
        raise OrderError(f"Event {event_id} is closed in the PMR; it takes no new orders.")
    metadata = dict(metadata or {})
    customer_id = lookups.customer_id_for(customer_email)
    if customer_id:
        metadata["pmr_customer_id"] = customer_id
    return _create_order(
        actor=actor,
        event=local or check,
        customer_name=customer_name,
        customer_email=customer_email,
        notes=notes,
        assigned_to=assigned_to,
        order_date=order_date,
        metadata=metadata,
        preset=preset,
        awaiting_submit=awaiting_submit or expected_images is not None,
        expected_images=expected_images,
    )


@transaction.atomic
def _create_order(
    *,
    actor: Any,
    event: Event | lookups.EventCheck,
    customer_name: str,
    customer_email: str,
    notes: str,
    assigned_to: Any,
    order_date,
    metadata: dict,
    preset: Any,
    awaiting_submit: bool = False,
    expected_images: int | None = None,
) -> Order:
    if (
        assigned_to is not None
        and assigned_to != actor
        and not actor.has_perm(access.REQUIRED_PERMISSION[access.Action.ASSIGN])
    ):
        raise PermissionDenied("You may not assign orders to other users.")
    if isinstance(event, lookups.EventCheck):  # only the PMR knows it: registered with the order
        event = lookups.import_event(event)
    order_date = order_date or timezone.now()
    order = Order.objects.create(
        order_ref=next_order_ref(order_date.year),
        event=event,
        customer_name=customer_name.strip(),
        customer_email=customer_email.strip().lower(),
        notes=notes,
        order_date=order_date,
        created_by=actor,
        assigned_to=assigned_to,
        metadata=metadata or {},
        preset=preset,
        awaiting_submit=awaiting_submit,
        expected_images=expected_images,
    )
    payload: dict[str, Any] = {"status": order.status}
    if awaiting_submit:
        payload["awaiting_submit"] = True
        if expected_images is not None:
            payload["expected_images"] = expected_images
    record_event(order, Kind.ORDER_CREATED, payload, actor)
    return order


@transaction.atomic
def change_order_status(
    order: Order, new_status: str, *, actor: Any = None, reason: str = ""
) -> Order:
    """Move an order to ``new_status`` if the state machine allows it."""
    action = access.Action.CANCEL if new_status == Order.Status.CANCELLED else access.Action.PROCESS
    locked = locking.lock_order(order.pk)
    _require(actor, action, locked)
    if not Order.can_move(locked.status, new_status):
        raise TransitionNotAllowed(f"Order {locked.order_ref}", locked.status, new_status)
    previous = locked.status
    locked.status = new_status
    locked.completed_at = timezone.now() if new_status == Order.Status.COMPLETED else None
    locked.save(update_fields=["status", "completed_at", "updated_at"])
    record_event(
        locked,
        Kind.ORDER_STATUS,
        {"from": previous, "to": new_status, "reason": reason},
        actor,
    )
    pipeline.order_moved(locked, previous, new_status)  # the PMR hears; AI work starts
    order.status, order.completed_at = locked.status, locked.completed_at
    order.last_event_seq = locked.last_event_seq
    return order


def cancel_refused_because(order: Order) -> str:
    """Why the order cannot be cancelled now, as a sentence ("" when it can)."""
    if Order.can_move(order.status, Order.Status.CANCELLED):
        return ""
    if order.status == Order.Status.CANCELLED:
        return f"Order {order.order_ref} is already cancelled."
    return (
        f"Order {order.order_ref} is {order.get_status_display().lower()}; "
        "a finished order cannot be cancelled."
    )


def edit_refused_because(order: Order) -> str:
    """Why the order's details cannot be edited now ("" when they can)."""
    if order.is_closed:
        return (
            f"Order {order.order_ref} is {order.get_status_display().lower()}; "
            "its details can no longer be edited."
        )
    return ""


#: ``metadata`` keys the server decides: the PMR customer the order is delivered to comes
#: from the customer's e-mail in the PMR, never from whoever sends the order (a User could
#: otherwise have an order delivered to another studio customer).
SERVER_METADATA_KEYS = frozenset({"pmr_customer_id"})


def client_metadata(metadata: dict | None, *, current: dict | None) -> dict:
    """``metadata`` as a client may set it: a server key is refused unless it repeats the
    order's current value (a client that reads the metadata and writes it back), and the
    current server values are kept."""
    cleaned = dict(metadata or {})
    current = current or {}
    for key in SERVER_METADATA_KEYS:
        if key in cleaned and cleaned[key] != current.get(key):
            raise OrderError(
                f"metadata.{key} is decided by the server (the customer's e-mail in the PMR); "
                "leave it out."
            )
        cleaned.pop(key, None)
        if key in current:
            cleaned[key] = current[key]
    return cleaned


#: Order fields people may edit; status, counters and references move only
#: through their own services.
EDITABLE_ORDER_FIELDS = frozenset(
    {"event", "customer_name", "customer_email", "order_date", "notes", "metadata", "preset"}
)
#: Statuses in which the order date may still change: nothing has gone to the PMR yet
#: (the PMR first hears of an order when it enters processing).
ORDER_DATE_EDITABLE = frozenset({Order.Status.DRAFT, Order.Status.PENDING})
#: Image states that show the AI step has worked on an image.
_AI_TOUCHED = frozenset({Image.Status.ANALYZED, Image.Status.PROCESSED, Image.Status.SYNCED})
#: Order statuses in which the AI step has started (or the order is closed).
_AI_STARTED = frozenset(
    {
        Order.Status.PROCESSING,
        Order.Status.NEEDS_REVIEW,
        Order.Status.AWAITING_APPROVAL,
        Order.Status.COMPLETED,
        Order.Status.CANCELLED,
    }
)


def ai_started(order: Order) -> bool:
    """Has the AI step begun on this order? Then its preset is settled (one query at most).

    A preset change after that would leave the order half done one way, half the
    other; reprocessing (``ai_processing.services.reprocess_order``) is the way then.
    """
    return (
        order.status in _AI_STARTED
        or order.ai_processed
        or Image.objects.filter(order_id=order.pk)
        .filter(Q(status__in=_AI_TOUCHED) | Q(ai_analyzed=True))
        .exists()
    )


def order_date_editable(order: Order) -> bool:
    return order.status in ORDER_DATE_EDITABLE


@transaction.atomic
def update_order(order: Order, *, actor: Any, **changes: Any) -> Order:
    """Edit an order's details; refused on closed orders and for unknown fields.

    The order date only while nothing went to the PMR (draft, pending); the preset
    only until the AI step has started (``ai_started``). Each refusal is an
    ``OrderError`` with a sentence.
    """
    unknown = set(changes) - EDITABLE_ORDER_FIELDS
    if unknown:
        raise OrderError(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    locked = Order.objects.select_for_update().get(pk=order.pk)
    _require(actor, access.Action.CHANGE, locked)
    if locked.is_closed:
        raise OrderError(
            f"Order {locked.order_ref} is {locked.get_status_display().lower()} "
            "and can no longer be edited."
        )
    changed = {}
    for field, value in changes.items():
        if field == "customer_email":
            value = (value or "").strip().lower()
        if field == "customer_name":
            value = (value or "").strip()
        if field == "metadata":
            value = client_metadata(value, current=locked.metadata)
        if field == "event" and not isinstance(value, Event):
            value = lookups.resolve_event(value)
        if getattr(locked, field) != value:
            changed[field] = value
    if "order_date" in changed and not order_date_editable(locked):
        raise OrderError(
            f"The order date of {locked.order_ref} can no longer change: the order is "
            f"{locked.get_status_display().lower()} and the PMR has been told its date."
        )
    if "preset" in changed and ai_started(locked):
        raise OrderError(
            f"Order {locked.order_ref} has started AI processing; its preset can no longer "
            "change. Reprocess it with another preset instead."
        )
    for field, value in changed.items():
        setattr(locked, field, value)
    if not changed:
        return locked
    locked.save(update_fields=[*changed, "updated_at"])
    record_event(locked, Kind.ORDER_UPDATED, {"fields": sorted(changed)}, actor)
    return locked


@transaction.atomic
def edit_order(order: Order, *, actor: Any, changes: dict[str, Any]) -> Order:
    """One edit of an order as a person or a client makes it (the API's PUT/PATCH, the
    admin's change form): details, then the assignee (``assigned_to``), then the
    ``status``, all or nothing.

    ``changes`` may carry the whole record back (a GET body sent with PUT): values equal
    to the order's are left out, so only what differs is checked and recorded; a changed
    field that cannot be edited is refused by ``update_order``. ``event`` may be an Event ID.
    """
    details = {field: value for field, value in changes.items() if _differs(order, field, value)}
    status = details.pop("status", None)
    assign = "assigned_to" in details
    assignee = details.pop("assigned_to", None)
    if details:
        order = update_order(order, actor=actor, **details)
    if assign and assignee != order.assigned_to:
        order = assign_order(order, assignee, actor=actor)
    if status is not None and status != order.status:
        order = change_order_status(order, status, actor=actor)
    return order


def _differs(order: Order, field: str, value: Any) -> bool:
    if field == "event" and isinstance(value, str):
        return value.strip() != order.event.event_id
    return getattr(order, field, value) != value


@transaction.atomic
def assign_order(order: Order, assignee: Any, *, actor: Any) -> Order:
    """Give the order to ``assignee`` (or nobody); refused on closed orders."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    _require(actor, access.Action.ASSIGN, locked)
    if locked.is_closed:
        raise OrderError(
            f"Order {locked.order_ref} is {locked.status} and can no longer be assigned."
        )
    previous = locked.assigned_to_id
    locked.assigned_to = assignee
    locked.save(update_fields=["assigned_to", "updated_at"])
    order.assigned_to = assignee
    record_event(
        locked,
        Kind.ORDER_ASSIGNED,
        {"from": previous, "to": assignee.pk if assignee else None},
        actor,
    )
    return locked


@transaction.atomic
def delete_order(order: Order, *, actor: Any) -> None:
    """Delete an order, its images and timeline; their stored files go after commit.

    Refused (``OrderError``) once anything of the order reached the PMR: a
    delivered order is cancelled, never deleted. Auditlog records the deletion
    of the order and of each image.
    """
    locked = Order.objects.select_for_update().get(pk=order.pk)
    _require(actor, access.Action.DELETE, locked)
    delivered = locked.images.filter(Q(status=Image.Status.SYNCED) | ~Q(pmr_url=""))
    if locked.pmr_synced or delivered.exists():
        raise OrderError(
            f"Order {locked.order_ref} was delivered to the PMR; it cannot be deleted. "
            "Cancel it instead."
        )
    images = locked.images.only("id", *Image.FILE_FIELDS)
    stored = [name for image in images for name in image.stored_files()]
    parts = [upload.part_folder for upload in locked.uploads.all()]
    try:
        locked.delete()
    except (ProtectedError, RestrictedError):
        raise OrderError(
            f"Order {locked.order_ref} is still referenced by other records; "
            "it cannot be deleted. Cancel it instead."
        ) from None

    def remove_files() -> None:
        for name in stored:
            try:
                default_storage.delete(name)
            except OSError:  # the rows are gone either way; say which file is left over
                log.exception("Could not delete stored file %s", name)
        for folder in parts:
            media.delete_folder(default_storage, folder)

    transaction.on_commit(remove_files)


def refresh_image_counters(order_id: int) -> dict[str, int]:
    """Recount the order's images by status and store the counts.

    Counting from the images (instead of adding and subtracting) keeps the
    counters right however many workers change images at once; the caller's
    transaction holds the order row lock.
    """
    S = Image.Status
    counts = Image.objects.filter(order_id=order_id).aggregate(
        total_images=Count("id"),
        ingested_images=Count("id", filter=Q(status__in=Image.PAST_INGEST)),
        processed_images=Count("id", filter=Q(status__in=[S.PROCESSED, S.SYNCED])),
        synced_images=Count("id", filter=Q(status=S.SYNCED)),
        rejected_images=Count("id", filter=Q(status=S.REJECTED)),
        failed_images=Count("id", filter=Q(status=S.FAILED)),
        review_images=Count("id", filter=Q(status=S.NEEDS_REVIEW)),
    )
    Order.objects.filter(pk=order_id).update(**counts)
    return counts


def failed_images_reason(failed: list[Image], review: int = 0) -> str:
    """A sentence naming the failed images of an order, for its status reason and timeline."""
    shown = [image.original_filename for image in failed[:5]]
    more = f" and {len(failed) - len(shown)} more" if len(failed) > len(shown) else ""
    noun = "image" if len(failed) == 1 else "images"
    text = f"{len(failed)} {noun} failed: {', '.join(shown)}{more}."
    if review:
        text += f" {review} more {'image waits' if review == 1 else 'images wait'} for review."
    return text + " Retry them, or deliver the order without them."


def stop_short(
    order: Order, status: str, *, failed: list[Image], review: int = 0, actor: Any = None
) -> Order:
    """The order cannot complete by itself: images failed. It stops in ``status``
    (``needs_review`` or ``failed``), with a reason naming them and one
    ``order.stopped_short`` timeline entry, so people see it (dashboard, notifications)
    instead of an order delivered with fewer images than were sent. The caller holds the
    order's lock."""
    reason = failed_images_reason(failed, review)
    if order.status != status:
        change_order_status(order, status, actor=actor, reason=reason)
    record_event(
        order,
        Kind.ORDER_STOPPED_SHORT,
        {
            "status": status,
            "reason": reason,
            "failed": [
                {"image": i.pk, "filename": i.original_filename, "reason": i.status_reason[:300]}
                for i in failed[:100]
            ],
            "failed_count": len(failed),
            "review": review,
        },
        actor,
    )
    return order


@transaction.atomic
def change_image_status(
    image: Image,
    new_status: str,
    *,
    actor: Any = None,
    reason: str = "",
    review_reason: str = "",
) -> Image:
    """Move an image to ``new_status`` if allowed, then recount its order.

    ``review_reason`` (an ``Image.ReviewReason`` code) is the category of an
    image going to ``needs_review`` (``other`` when not given), so the review
    queue can filter and count by it; it is cleared when the image moves on.
    An approval (hold for approval) is of the processed file as it was: any move
    other than on to the PMR forgets it, so a redone image is approved again.
    """
    order, locked = locking.lock_image(image.pk, order_id=image.order_id)
    _require(actor, access.Action.PROCESS, order)
    if not Image.can_move(locked.status, new_status):
        raise TransitionNotAllowed(f"Image {locked.pk}", locked.status, new_status)
    previous = locked.status
    locked.status = new_status
    locked.status_reason = reason
    in_review = new_status == Image.Status.NEEDS_REVIEW
    locked.review_reason = (review_reason or Image.ReviewReason.OTHER) if in_review else ""
    fields = ["status", "status_reason", "review_reason", "updated_at"]
    if locked.approved_at is not None and new_status != Image.Status.SYNCED:
        locked.approved_at, locked.approved_by = None, None
        fields += ["approved_at", "approved_by"]
    locked.save(update_fields=fields)
    counts = refresh_image_counters(order.pk)
    record_event(
        order,
        Kind.IMAGE_STATUS,
        {"image": locked.pk, "from": previous, "to": new_status, "reason": reason, **counts},
        actor,
    )
    image.status, image.status_reason = locked.status, locked.status_reason
    image.review_reason = locked.review_reason
    return image


@transaction.atomic
def change_images_status(
    order_id: int,
    image_ids: Iterable[int],
    from_status: str,
    new_status: str,
    *,
    actor: Any = None,
    reason: str = "",
) -> list[int]:
    """Move those of the order's images that are in ``from_status`` to ``new_status``, as one
    change: one update, one recount of the order and one timeline entry; the ids moved.

    Why: ``change_image_status`` once per image of a batch costs its locks, its recount of
    the whole order and its timeline entry per image. Where many images of one order make
    the same move at once (the PMR drain confirming a batch of uploads), that cost sat on
    the delivery's critical path (docs/benchmarks.md, "PMR upload"). An image no longer in
    ``from_status`` once locked (another writer moved it) is left as it is, as the one-image
    service would refuse it. One image moved writes the one-image entry
    (``image.status_changed``); several write ``images.status_changed`` (``{images: [ids],
    count, from, to, reason}`` and the counts); the audit log gets the same per-image
    entries a ``save`` would have written.

    Not for ``needs_review`` (its ``review_reason`` and the analytics that read review moves
    per image: use ``change_image_status``). Locks the order, then the images in ``pk``
    order (``orders.locking``).
    """
    if new_status == Image.Status.NEEDS_REVIEW:
        raise ValueError("moves to needs_review go through change_image_status")
    if not Image.can_move(from_status, new_status):
        raise TransitionNotAllowed("Images", from_status, new_status)
    order = locking.lock_order(order_id)
    _require(actor, access.Action.PROCESS, order)
    wanted = sorted(set(image_ids))
    if not wanted:
        return []
    images = Image.objects.filter(pk__in=wanted, status=from_status).only(
        "pk", "order_id", "original_filename", "status", "status_reason", "approved_at"
    )
    locked = locking.lock_images(order, images)
    if not locked:
        return []
    if len(locked) == 1:
        change_image_status(locked[0], new_status, actor=actor, reason=reason)
        return [locked[0].pk]
    moved = [image.pk for image in locked]
    changes: dict[str, Any] = {
        "status": new_status,
        "status_reason": reason,
        "review_reason": "",
        "updated_at": timezone.now(),
    }
    if new_status != Image.Status.SYNCED:  # an approval is of the file on its way to the PMR
        changes.update(approved_at=None, approved_by=None)
    Image.objects.filter(pk__in=moved).update(**changes)
    audit.record_changes(
        locked,
        {
            image.pk: {
                "status": [image.status, new_status],
                **(
                    {"status_reason": [image.status_reason, reason]}
                    if image.status_reason != reason
                    else {}
                ),
            }
            for image in locked
        },
        actor=actor,
    )
    counts = refresh_image_counters(order.pk)
    record_event(
        order,
        Kind.IMAGES_STATUS,
        {
            "images": moved,
            "count": len(moved),
            "from": from_status,
            "to": new_status,
            "reason": reason,
            **counts,
        },
        actor,
    )
    return moved
