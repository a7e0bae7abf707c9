"""The order stream carries everything the order page shows, and changes without a timeline
entry (the PMR box's "waiting for PMR") reach the client at once, not at the next heartbeat."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from orders import services
from orders.models import Order
from pmr import drain
from pmr.models import OrderDelivery
from tests.asyncio_helpers import run_async
from tests.live.conftest import communicator, hang_up, receive, ws_headers

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_pmr_box_and_the_closed_notice_follow_the_order_live(users, make_order, settings):
    settings.LIVE_HEARTBEAT_S = 60  # nothing may wait for a heartbeat here
    user = users["User"]
    order = make_order(user)
    OrderDelivery.objects.create(order=order)
    headers = ws_headers(user)

    async def scenario():
        comm = communicator(f"/ws/orders/{order.order_ref}/?after=0", headers)
        assert (await comm.connect(timeout=5))[0]
        first = await receive(comm)
        # The PMR cannot be reached: no timeline entry, only the doorbell.
        await database_sync_to_async(drain._set_waiting)(order.pk, "the PMR is away")
        waiting = await receive(comm, timeout=5)
        await database_sync_to_async(services.change_order_status)(
            order, Order.Status.CANCELLED, actor=user, reason="not needed"
        )
        cancelled = await receive(comm, timeout=5)
        await hang_up(comm)
        return first, waiting, cancelled

    first, waiting, cancelled = run_async(scenario(), timeout=30)
    assert first["order"]["pmr"]["state"] == "not_started"
    assert first["order"]["closed"] is False
    assert first["order"]["counts_text"] == "0 waiting · 0 rejected · 0 failed"
    assert waiting["events"] == []
    assert waiting["order"]["pmr"]["state"] == "waiting"
    assert waiting["order"]["pmr"]["text"].startswith("Waiting for PMR since ")
    assert cancelled["events"][-1]["text"] == "Status Draft → Cancelled (not needed)"
    assert cancelled["order"]["closed"] is True
    assert cancelled["order"]["closed_notice"] == (
        f"Order {order.order_ref} is cancelled; no more images can be added."
    )
