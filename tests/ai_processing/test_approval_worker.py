"""Hold for approval with a real Celery worker (ingest, AI, PMR) and the PMR simulator.

An order whose preset holds it goes through ingest and the AI step by itself and stops in
``awaiting_approval``: the PMR simulator holds none of its images and the outbox no upload.
Approved, the same worker delivers it: completed, every image in the PMR exactly once.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ai_processing import approval
from ai_processing.models import ProcessingPreset
from ai_processing.timeline import AI_COMPLETED
from orders import intake
from orders.models import Image, Order, OrderEvent
from pmr.models import OutboxEntry
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    different_photos,
    manager_fixture,
    media_root_fixture,
)
from tests.pmr.conftest import pmr_event, remote_order, sim  # noqa: F401 (fixtures)
from tests.workers import celery_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
WAIT_SECONDS = 120


def wait_for(what: str, check: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text()[-4000:]}")


def test_a_held_order_waits_then_is_delivered_once_after_approval(
    sim,  # noqa: F811
    pmr_event,  # noqa: F811
    manager,
    make_order,
    ai_settings,
    media_root,
    tmp_path,
    monkeypatch,
):
    monkeypatch.setenv("AI_PROVIDERS", "local")
    monkeypatch.setenv("AI_PROVIDER_CONCURRENCY", '{"local": 2}')
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.pmr.worker_settings",
        "PMR_BASE_URL": sim.base_url,
        "PMR_CLIENT_ATTEMPTS": "1",
        "PMR_RETRY_BASE_SECONDS": "0.2",
    }
    held = ProcessingPreset.objects.create(
        name="Colour, approved",
        slug="colour-approved",
        operations=["analyze", "edit"],
        edit_prompt="Correct exposure and white balance only.",
        hold_for_approval=True,
    )
    order = make_order(manager, preset=held)
    with celery_worker("ingest,ai,pmr", media_root=media_root, log_dir=tmp_path, env=env) as log:
        for i, data in enumerate(different_photos(2)):
            intake.add_image(order, source=io.BytesIO(data), filename=f"IMG_{i}.jpg", actor=manager)
        wait_for(
            "the order to await approval",
            lambda: Order.objects.get(pk=order.pk).status == Order.Status.AWAITING_APPROVAL,
            log,
        )
        time.sleep(2)  # give a wrong delivery the time to happen: it must not
        order.refresh_from_db()
        assert order.status == Order.Status.AWAITING_APPROVAL
        assert not order.ai_processed
        assert set(order.images.values_list("status", flat=True)) == {Image.Status.PROCESSED}
        remote = remote_order(sim, order)
        assert remote is None or remote["images"] == []
        assert not OutboxEntry.objects.filter(
            order=order, kind__in=(OutboxEntry.Kind.IMAGE_PUT, OutboxEntry.Kind.ORDER_FINISH)
        ).exists()

        assert approval.approve_order(order, actor=manager) == 2
        wait_for(
            "the approved order to be delivered",
            lambda: Order.objects.get(pk=order.pk).status == Order.Status.COMPLETED,
            log,
        )
    order.refresh_from_db()
    assert order.pmr_synced
    assert set(order.images.values_list("status", flat=True)) == {Image.Status.SYNCED}
    remote = remote_order(sim, order)
    assert remote["status"] == "completed"
    assert len(remote["images"]) == 2
    assert [image["writes"] for image in remote["images"]] == [1, 1]
    # Each image goes as its original and its edited file (issue 16), each written once.
    assert sorted(f["variant"] for f in remote["files"]) == [
        "edited",
        "edited",
        "original",
        "original",
    ]
    assert [f["writes"] for f in remote["files"]] == [1, 1, 1, 1]
    assert OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.IMAGE_PUT).count() == 4
    events = list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))
    assert events.count(AI_COMPLETED) == 1
    assert events.count(OrderEvent.Kind.ORDER_APPROVED) == 1
