"""Signals of the orders app: extension points only.

The order's journey (ingest, AI, approval, PMR delivery) is not told through signals: it
is called step by step in ``orders.pipeline``. What is left here are hooks that any writer
triggers and that no step of the journey depends on.
"""

from django.db.models.signals import post_save

from . import live

# --- live status --------------------------------------------------------------
# Every committed timeline entry rings the live-status doorbell (orders.live).
# A post_save receiver, not a call in services.record_event, so that every
# writer of OrderEvent is covered (``OrdersConfig.ready`` imports this module).


def _ring_live_doorbell(sender, instance, created, **kwargs) -> None:
    live.on_event_saved(sender, instance, created, **kwargs)


post_save.connect(
    _ring_live_doorbell, sender="orders.OrderEvent", dispatch_uid="orders.live.doorbell"
)
