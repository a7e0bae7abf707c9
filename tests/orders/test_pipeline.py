"""The decisions of the order pipeline (orders/pipeline.py), through the real services.

Real PostgreSQL and Redis, the local AI provider, the real outbox; nothing stubbed. Each
test drives an order to one of the pipeline's forks and checks where it went and what the
PMR outbox holds.
"""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.db import transaction

from ai_processing import approval
from ai_processing import services as ai_services
from ai_processing.stage import AiStage
from orders import intake, pipeline, services
from orders.models import Image, Order, OrderEvent
from pmr.models import OutboxEntry
from pmr.stage import DeliveryStage
from tests.ai_processing.approval import hold_preset
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    different_photos,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.pmr.conftest import add_processed_images

pytestmark = pytest.mark.django_db
S = Order.Status
K = OutboxEntry.Kind
DELIVERY = (K.IMAGE_PUT, K.ORDER_FINISH)


def _delivery_rows(order: Order):
    return OutboxEntry.objects.filter(order=order, kind__in=DELIVERY)


def _kinds(order: Order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))


def test_the_stages_are_bound_by_settings():
    bound = pipeline.stages()
    assert isinstance(bound.ai, AiStage)
    assert isinstance(bound.delivery, DeliveryStage)


def test_a_plain_order_goes_to_the_outbox_in_the_settling_transaction(make_order, manager):
    order = make_order(manager, preset=preset("colour-correct-only"))
    add_processed_images(order, 2)
    services.refresh_image_counters(order.pk)
    Order.objects.filter(pk=order.pk).update(status=S.PROCESSING)

    class Undo(Exception):
        pass

    def settle_and_undo() -> None:
        with transaction.atomic():
            pipeline.ai_settled(Order.objects.get(pk=order.pk))
            # Inside the transaction that settled the order: the delivery is written already.
            assert _delivery_rows(order).filter(kind=K.IMAGE_PUT).exists()
            assert _delivery_rows(order).filter(kind=K.ORDER_FINISH).count() == 1
            assert Order.objects.get(pk=order.pk).ai_processed
            raise Undo

    with pytest.raises(Undo):
        settle_and_undo()
    # Rolled back together: no order handed over without its rows, nor rows without it.
    assert not Order.objects.get(pk=order.pk).ai_processed
    assert not OutboxEntry.objects.filter(order=order).exists()

    with transaction.atomic():
        pipeline.ai_settled(Order.objects.get(pk=order.pk))
    order.refresh_from_db()
    assert order.status == S.PROCESSING  # the PMR step completes it
    assert order.ai_processed
    assert _kinds(order).count(pipeline.AI_COMPLETED) == 1
    assert _delivery_rows(order).filter(kind=K.ORDER_FINISH).count() == 1


def test_a_held_order_waits_for_approval_with_nothing_delivered(ingested_order, manager):
    order = ingested_order("colour-correct-only", 2)
    order.preset.hold_for_approval = True
    order.preset.save()
    before = OutboxEntry.objects.filter(order=order).count()  # the "processing" push
    for image in order.images.all():
        assert ai_services.process_image(image.pk).status == Image.Status.PROCESSED
    order.refresh_from_db()
    assert order.status == S.AWAITING_APPROVAL
    assert not order.ai_processed
    assert OutboxEntry.objects.filter(order=order).count() == before  # nothing for the PMR
    assert not _delivery_rows(order).exists()

    approval.approve_order(order, actor=manager)
    order.refresh_from_db()
    assert order.status == S.PROCESSING
    assert order.ai_processed
    assert _delivery_rows(order).filter(kind=K.IMAGE_PUT).exists()
    assert _delivery_rows(order).filter(kind=K.ORDER_FINISH).count() == 1


def test_a_held_order_with_every_image_approved_already_is_released(make_order, manager):
    order = make_order(manager, preset=hold_preset())
    add_processed_images(order, 1)
    Image.objects.filter(order=order).update(approved_at=order.created_at)
    Order.objects.filter(pk=order.pk).update(status=S.PROCESSING)
    with transaction.atomic():
        pipeline.ai_settled(Order.objects.get(pk=order.pk))
    order.refresh_from_db()
    assert order.status == S.PROCESSING
    assert order.ai_processed


def test_a_short_order_stops_for_a_person(make_order, manager, ai_settings):
    """One file's stored bytes are lost before its ingest: it fails; the order goes on with
    the other one, and then stops short in review instead of being delivered without it."""
    order = make_order(manager, preset=preset("colour-correct-only"))
    good, lost = (
        intake.add_image(order, source=io.BytesIO(data), filename=f"{n}.jpg", actor=manager)
        for n, data in enumerate(different_photos(2))
    )
    intake.ingest_image(good.pk)
    default_storage.delete(Image.objects.get(pk=lost.pk).original.name)
    assert intake.ingest_image(lost.pk).status == Image.Status.FAILED
    assert Order.objects.get(pk=order.pk).status == S.PROCESSING  # one image passed

    assert ai_services.process_image(good.pk).status == Image.Status.PROCESSED
    order.refresh_from_db()
    assert order.status == S.NEEDS_REVIEW
    assert not order.ai_processed
    assert _kinds(order).count(OrderEvent.Kind.ORDER_STOPPED_SHORT) == 1
    assert not _delivery_rows(order).exists()

    pipeline.deliver_without_failed(order, manager)  # a person decides
    order.refresh_from_db()
    assert order.ai_processed
    assert _delivery_rows(order).filter(kind=K.IMAGE_PUT, image_id=good.pk).exists()
    assert not _delivery_rows(order).filter(image_id=lost.pk).exists()


def test_every_file_refused_leaves_the_order_pending_and_all_failed_fails_it(
    make_order, manager, ai_settings
):
    order = make_order(manager)
    refused = intake.add_image(
        order, source=io.BytesIO(b"not a photo"), filename="a.jpg", actor=manager
    )
    intake.ingest_image(refused.pk)
    assert Order.objects.get(pk=order.pk).status == S.PENDING  # the user fixes it

    other = make_order(manager)
    lost = intake.add_image(
        other, source=io.BytesIO(different_photos(1)[0]), filename="b.jpg", actor=manager
    )
    default_storage.delete(Image.objects.get(pk=lost.pk).original.name)
    intake.ingest_image(lost.pk)
    other.refresh_from_db()
    assert other.status == S.FAILED
    assert _kinds(other).count(OrderEvent.Kind.ORDER_STOPPED_SHORT) == 1
    assert not OutboxEntry.objects.filter(order=other).exists()  # the PMR never heard of it


def test_a_status_change_reaches_the_outbox_in_its_transaction(ingested_order, manager):
    order = ingested_order("colour-correct-only", 1)
    pushed = OutboxEntry.objects.filter(order=order, kind=K.ORDER_STATUS)
    assert list(pushed.values_list("payload__status", flat=True)) == [S.PROCESSING]
    with transaction.atomic():
        services.change_order_status(order, S.CANCELLED, actor=manager, reason="customer")
        assert pushed.filter(payload__status=S.CANCELLED).count() == 1
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED
