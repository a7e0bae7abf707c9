"""Signals other apps listen to, so that orders never imports them.

``order_status_changed(sender=Order, order, previous, status)`` is sent by
``services.change_order_status`` inside its transaction, after the move is
saved; a receiver that starts work elsewhere queues it with
``transaction.on_commit`` (the AI pipeline does, for ``processing``).

``image_ready(sender=Image, image, order)`` is sent inside the ingest
transaction for an image that passed ingest into an order that is *already*
processing (a late file); an order entering processing announces all its
images through ``order_status_changed`` instead.
"""

from django.dispatch import Signal

order_status_changed = Signal()
image_ready = Signal()
