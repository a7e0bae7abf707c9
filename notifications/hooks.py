"""Where notifications come from: the timeline rows the services commit.

An order completing or going to review is an ``order.status_changed`` entry; a
refused PMR write is a ``pmr.write_failed`` entry (``pmr.drain``). Reading the
timeline, rather than hooking each service, covers every writer and keys each
notification to the row that recorded its event (``order-event:<id>``), which
is what makes it once-only. The receiver is cheap (no query) and queues the
work after commit, like the live doorbell (``orders.live``): a rolled-back
change notifies nobody, and the pipeline never waits for a notification.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from . import tasks
from .compose import order_kind
from .models import Kind


def on_order_event_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """``post_save`` of ``OrderEvent``: queue ``notify_order_event`` once the row is committed."""
    if not created or kwargs.get("raw"):
        return
    kind = order_kind(instance.kind, instance.payload)
    if kind is None:
        return
    event_id, order_id = instance.pk, instance.order_id

    def queue() -> None:
        tasks.notify_order_event.delay(event_id)
        if kind == Kind.ORDER_COMPLETED:  # the customer's e-mail, if switched on
            tasks.send_customer_email.delay(order_id)

    # robust: a broker hiccup must not surface in the code that committed the order's change.
    transaction.on_commit(queue, robust=True)
