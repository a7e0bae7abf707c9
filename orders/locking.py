"""Row locks for a transition, always taken in one order: event, order, images, the rest.

Why one order: two transactions that lock the same rows in opposite orders wait for each
other forever, and PostgreSQL breaks the tie by killing one of them (a deadlock error in
the middle of an ingest, an AI result or a PMR answer). Every transition of an order or
its images therefore locks through these helpers, in this order:

1. the event (only ingest's near-duplicate check, ``FOR NO KEY UPDATE``, which leaves the
   foreign-key checks of other writers alone);
2. the order: the lock that matters. Two transitions of one order queue here, so neither
   can hold a lock further down that the other needs;
3. the order's images (one, or several in ``pk`` order);
4. rows of the apps above, under the order lock (``pmr``'s outbox rows and delivery; the
   drain marks images synced after them, which the order lock keeps safe).

Call them inside ``transaction.atomic``. A lock of one image row alone (bookkeeping such as
counting an attempt, which then locks nothing else) takes no part and may stand.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from events.models import Event

from .models import Image, Order


def lock_order(order_id: int, *, fields: Iterable[str] = ()) -> Order:
    """Lock the order row (step 2); ``fields``: load only these (the lock is the point)."""
    rows = Order.objects.select_for_update()
    if fields:
        rows = rows.only(*fields)
    return rows.get(pk=order_id)


def lock_image(image_id: int, *, order_id: int | None = None) -> tuple[Order, Image]:
    """Lock the image's order, then the image (steps 2 and 3); both fresh from the database.

    ``order_id`` saves the query that finds it when the caller knows it.
    """
    if order_id is None:
        order_id = Image.objects.only("order_id").get(pk=image_id).order_id
    order = lock_order(order_id)
    return order, Image.objects.select_for_update().get(pk=image_id)


def lock_images(order: Order, images: QuerySet[Image]) -> list[Image]:
    """Lock several images of an order whose row the caller locked already (step 3), in
    ``pk`` order, so two such transactions meet on their first common image."""
    return list(images.filter(order_id=order.pk).select_for_update().order_by("pk"))


def lock_for_ingest(image: Image) -> tuple[Order, Image]:
    """Ingest's verdict: the event first (step 1: it serialises the near-duplicate check per
    event, so two copies ingested at the same moment cannot both miss each other), then the
    order and the image."""
    Event.objects.select_for_update(no_key=True).only("pk").get(pk=image.order.event_id)
    return lock_image(image.pk, order_id=image.order_id)
