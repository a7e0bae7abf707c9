"""Signals other apps listen to, so that orders never imports them.

``order_status_changed(sender=Order, order, previous, status)`` is sent by
``services.change_order_status`` inside its transaction, after the move is
saved; a receiver that starts work elsewhere queues it with
``transaction.on_commit`` (the AI pipeline does, for ``processing``).

``image_ready(sender=Image, image, order)`` is sent inside the ingest
transaction for each image that passed ingest into a pending or processing
order, so its AI work can start while the order's other files are still being
ingested. An order entering processing also announces its images through
``order_status_changed``; receivers must tolerate seeing an image twice (the
AI pipeline holds a per-image lease and checks the image's status).
"""

from django.db.models.signals import post_save
from django.dispatch import Signal

order_status_changed = Signal()
image_ready = Signal()
#: ``ingest_ended(sender=Image, image, order)``: sent inside the ingest transaction when an
#: image of an order already past pending was refused or failed at ingest (a late file, a
#: retried one): nothing else would look at the order again, so the AI pipeline settles it.
ingest_ended = Signal()
#: ``ai_completed(sender=Order, order)``: sent inside the transaction that marks the order's
#: AI work done (every image processed, failed or rejected); the PMR delivery listens.
ai_completed = Signal()


# --- live status --------------------------------------------------------------
# Every committed timeline entry rings the live-status doorbell (orders.live).
# A post_save receiver, not a call in services.record_event, so that every
# writer of OrderEvent is covered; connected by label so this module imports
# no models (services imports it).


def _ring_live_doorbell(sender, instance, created, **kwargs) -> None:
    from . import live

    live.on_event_saved(sender, instance, created, **kwargs)


post_save.connect(
    _ring_live_doorbell, sender="orders.OrderEvent", dispatch_uid="orders.live.doorbell"
)
