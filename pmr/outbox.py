"""Writing PMR work into the outbox, inside the transaction of the change that needs it.

Every function here must be called inside ``transaction.atomic`` (the callers
are signal receivers of order and AI services, which run in theirs): the rows
commit together with the change or not at all. After the commit the order's
drain is queued; if that message is lost, the beat sweep finds the due rows.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orders import prints
from orders.models import Image, Order
from utilities import audit
from utilities.infrastructure import queue_after_commit

from . import tasks, variants
from .models import OrderDelivery, OutboxEntry

K = OutboxEntry.Kind
#: Order statuses the PMR knows (PATCH /v1/orders/{ref}); the others stay in the project.
PUSHED_STATUSES = frozenset(
    {Order.Status.PROCESSING, Order.Status.COMPLETED, Order.Status.CANCELLED}
)
#: Image statuses that are delivered.
DELIVERABLE = frozenset({Image.Status.PROCESSED})
#: The upload rows that make an image count at the PMR: its original (or, for a row written
#: before variants, its one file). Edited files and prints add files, not images.
PRIMARY_UPLOAD = Q(kind=K.IMAGE_PUT) & (
    Q(payload__variant=variants.ORIGINAL) | ~Q(payload__has_key="variant")
)


def image_ref(image: Image) -> str:
    """The image's stable reference toward the PMR (the PUT path; same on every retry)."""
    return f"img-{image.pk}"


def _key(order: Order, kind: str, suffix: str = "") -> str:
    # Unique per row: a later row of the same kind (new metadata, a status pushed again)
    # is a new write with a new key; a retry of this row reuses this key.
    return f"{order.order_ref}:{kind}:{suffix or uuid.uuid4().hex[:16]}"


def expected_images(order: Order) -> int:
    """How many images the PMR must hold before the order may complete: every image of the
    order except those refused at intake or left out by a person (``rejected``, or whose
    upload a manager skipped). A failed image counts (the order waits for it) until a person
    leaves it out. An image counts once, by its original (``PRIMARY_UPLOAD``): its edited
    file and prints are more files of the same image, not more images."""
    primary = OutboxEntry.objects.filter(PRIMARY_UPLOAD, order_id=order.pk)
    skipped = (
        primary.filter(state=OutboxEntry.State.SKIPPED)
        .exclude(image_id__in=primary.filter(state=OutboxEntry.State.DONE).values("image_id"))
        .values("image_id")
    )
    return (
        Image.objects.filter(order_id=order.pk)
        .exclude(status=Image.Status.REJECTED)
        .exclude(pk__in=skipped)
        .count()
    )


def order_metadata(order: Order) -> dict[str, Any]:
    """The ``OrderWrite`` body: the order as the project knows it now."""
    expected = expected_images(order)
    return {
        "event_id": order.event.event_id,
        "customer_id": (order.metadata or {}).get("pmr_customer_id"),
        "customer_name": order.customer_name[:200],
        "customer_email": order.customer_email[:254] or None,
        "order_date": order.order_date.isoformat(),
        "notes": order.notes[:10000] or None,
        "expected_image_count": expected,
        "metadata": {"preset": order.preset.slug if order.preset_id else None},
    }


#: The customer's personal data in an ``OrderWrite`` body (and the PMR's answer to it).
PERSONAL_FIELDS = ("customer_name", "customer_email", "notes")


def without_personal_data(data: Any) -> Any:
    """``data`` with the customer's name, e-mail and notes emptied (``None``).

    A queued metadata row carries them as they were when the change was made (a resend
    must send the same body under the same idempotency key); once the row is final they are
    never needed again, and the order keeps them encrypted (docs/deployment.md,
    "Encryption at rest"), while this JSON is plain.
    """
    if not isinstance(data, dict):
        return data
    return {k: (None if k in PERSONAL_FIELDS else v) for k, v in data.items()}


def forget_sent_personal_data(order_id: int) -> int:
    """Empty the personal data of the order's final metadata rows; how many rows changed."""
    changed = []
    rows = OutboxEntry.objects.filter(
        order_id=order_id, kind=OutboxEntry.Kind.ORDER_PUT, state__in=OutboxEntry.FINAL
    ).only("pk", "payload", "response")
    for row in rows:
        payload, response = without_personal_data(row.payload), without_personal_data(row.response)
        if (payload, response) != (row.payload, row.response):
            row.payload, row.response = payload, response
            changed.append(row)
    OutboxEntry.objects.bulk_update(changed, ["payload", "response"])
    return len(changed)


def _nonce() -> str:
    return uuid.uuid4().hex[:8]


def _add(order: Order, kind: str, payload: dict, *, image: Image | None = None, suffix=""):
    entry = OutboxEntry.objects.create(
        order_id=order.pk,
        image=image,
        kind=kind,
        payload=payload,
        idempotency_key=_key(order, kind, suffix),
        next_attempt_at=timezone.now(),
    )
    OrderDelivery.objects.get_or_create(order_id=order.pk)
    _drain_after_commit(order.pk)
    return entry


def _drain_after_commit(order_id: int) -> None:
    """Queue the order's drain when the transaction commits: once per order and transaction
    (a delivery of 200 images adds 200 rows, and needs one message, not 200)."""
    pending = transaction.get_connection().run_on_commit  # Django drops rolled-back ones
    if any(getattr(func, "pmr_drain_of", None) == order_id for _, func, _ in pending):
        return

    def send() -> None:
        tasks.drain_order.delay(order_id)

    # A broker that is away at the commit is logged; the beat's drain_due finds the due rows.
    hook = queue_after_commit(send, f"the PMR drain of order {order_id}")
    hook.pmr_drain_of = order_id


def known_to_pmr(order: Order) -> bool:
    return OutboxEntry.objects.filter(order_id=order.pk, kind=K.ORDER_PUT).exists()


def put_order(order: Order) -> OutboxEntry:
    return _add(order, K.ORDER_PUT, order_metadata(order))


def push_status(order: Order, status: str, note: str = "") -> OutboxEntry | None:
    """A status change the PMR should hear of; the order's metadata goes first if never sent."""
    if status not in PUSHED_STATUSES:
        return None
    if OrderDelivery.objects.filter(order_id=order.pk, uploaded_by_hand=True).exists():
        return None  # staff delivered it themselves: the automation stays out of it
    if not known_to_pmr(order):
        if status == Order.Status.CANCELLED:
            return None  # the PMR never heard of it: nothing to cancel there
        put_order(order)
    return _add(order, K.ORDER_STATUS, {"status": status, "note": note[:500]})


def deliver(order: Order) -> int:
    """The order's AI work is done: fresh metadata, one upload row per file of each processed
    image (its original, its edited file when it has one, one per print size ordered:
    ``variants.files_of``), then the finishing row, after all files.

    Files already delivered (an earlier delivery, or rows still open) get no second row; an
    image with a row from before variants counts as delivered. Returns how many upload rows
    were added.
    """
    put_order(order)
    legacy: set[int] = set()
    already: set[tuple[int, str]] = set()
    existing = (
        OutboxEntry.objects.filter(order_id=order.pk, kind=K.IMAGE_PUT)
        .exclude(state=OutboxEntry.State.SKIPPED)
        .values_list("image_id", "payload")
    )
    for image_id, payload in existing:
        spec = variants.spec_of(payload or {})
        if spec is None:
            legacy.add(image_id)
        else:
            already.add((image_id, spec.key))
    printed = prints.order_has_prints(order.pk)  # none ordered: no image needs asking
    now = timezone.now()
    uploads = []
    for image in Image.objects.filter(order_id=order.pk, status__in=DELIVERABLE).order_by("pk"):
        if image.pk in legacy:
            continue
        ref = image_ref(image)
        renditions = variants.renditions_of(image) if printed else []
        for spec in variants.files_of(bool(image.processed), renditions):
            if (image.pk, spec.key) in already:
                continue
            uploads.append(
                OutboxEntry(
                    order_id=order.pk,
                    image=image,
                    kind=K.IMAGE_PUT,
                    payload=spec.payload(ref),
                    idempotency_key=_key(order, K.IMAGE_PUT, f"{ref}:{spec.key}:{_nonce()}"),
                    next_attempt_at=now,
                )
            )
    # One INSERT for every file (a row at a time cost 1,200 queries for 200 images, in the
    # transaction of the AI step's last image); the audit log gets the entries the rows'
    # saves would have written. Rows go in list order (ids ascending: the drain's order).
    created = OutboxEntry.objects.bulk_create(uploads, batch_size=500)
    audit.record_created(created)
    _add(order, K.ORDER_FINISH, {})  # its own INSERT, after the files': a higher id
    return len(created)
