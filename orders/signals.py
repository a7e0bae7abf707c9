"""Signals other apps listen to, so that orders never imports them.

``order_status_changed(sender=Order, order, previous, status)`` is sent by
``services.change_order_status`` inside its transaction, after the move is
saved; a receiver that starts work elsewhere queues it with
``transaction.on_commit`` (the AI pipeline does, for ``processing``).
"""

from django.dispatch import Signal

order_status_changed = Signal()
