"""Approvals racing each other on real PostgreSQL connections: delivered exactly once.

Eight people answer the same held order at the same moment (each image approved by someone,
and the whole order by others): the lock order → image serialises them, every answer is
either done or a sentence, and the order's result is written for the PMR once.
"""

from __future__ import annotations

import pytest

from accounts.roles import MANAGER
from ai_processing import approval
from ai_processing.timeline import AI_COMPLETED
from orders.models import Order, OrderEvent
from tests.ai_processing.approval import delivered, held_order
from tests.conftest import make_user
from tests.orders.test_concurrency import run_in_threads
from utilities.errors import OrderError

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_simultaneous_approvals_deliver_once(make_order):
    managers = [make_user(MANAGER) for _ in range(8)]
    order = held_order(make_order, managers[0], 6)
    images = list(order.images.order_by("pk"))

    def answer(i: int) -> str:
        try:
            if i < len(images):
                approval.approve_image(images[i], actor=managers[i])
            else:
                approval.approve_order(Order.objects.get(pk=order.pk), actor=managers[i])
        except OrderError as exc:
            return str(exc)
        return "done"

    results = run_in_threads(answer, 8)
    assert "done" in results
    assert all(r == "done" or "not awaiting approval" in r for r in results), results
    order.refresh_from_db()
    assert order.ai_processed
    assert order.status == Order.Status.PROCESSING
    kinds = list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))
    assert kinds.count(AI_COMPLETED) == 1
    assert delivered(order) == (6, 1)
    assert not order.images.filter(approved_at__isnull=True).exists()
