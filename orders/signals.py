"""Signals of the orders app: extension points only.

The order's journey (ingest, AI, approval, PMR delivery) is not told through signals: it
is called step by step in ``orders.pipeline``. What is left here are hooks that any writer
triggers and that no step of the journey depends on.
"""

from django.db.models.signals import post_delete, post_save

from . import live, tallies

# --- live status --------------------------------------------------------------
# Every committed timeline entry rings the live-status doorbell (orders.live).
# A post_save receiver, not a call in services.record_event, so that every
# writer of OrderEvent is covered (``OrdersConfig.ready`` imports this module).


def _ring_live_doorbell(sender, instance, created, **kwargs) -> None:
    live.on_event_saved(sender, instance, created, **kwargs)


post_save.connect(
    _ring_live_doorbell, sender="orders.OrderEvent", dispatch_uid="orders.live.doorbell"
)


# --- the dashboard's counters -----------------------------------------------------
# A deleted order (also one deleted with its event or user: Django sends this for cascades
# too) leaves the counters of its status (orders.tallies); saves and updates are counted by
# the model itself.


def _untally_deleted_order(sender, instance, **kwargs) -> None:
    tallies.record([instance.tally_key()], [])


post_delete.connect(
    _untally_deleted_order, sender="orders.Order", dispatch_uid="orders.tallies.deleted"
)
