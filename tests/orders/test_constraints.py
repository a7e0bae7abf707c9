"""Database constraints hold even when the services are bypassed."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from orders.models import Image, Order, OrderEvent

SHA = "ab" * 32


@pytest.fixture
def order(manager, make_order):
    return make_order(manager)


def test_same_bytes_twice_in_one_order_is_refused(order, make_image):
    make_image(order, sha256=SHA)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_image(order, sha256=SHA)
    assert Image.objects.filter(order=order, sha256=SHA).count() == 1


@pytest.mark.parametrize(
    "first_status", [s for s in Image.Status.values if s != Image.Status.REJECTED]
)
def test_duplicate_refused_whatever_the_kept_images_status(order, make_image, first_status):
    make_image(order, first_status, sha256=SHA)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_image(order, Image.Status.UPLOADED, sha256=SHA)


def test_a_rejected_copy_may_sit_next_to_the_kept_one(order, make_image):
    make_image(order, sha256=SHA)
    make_image(order, Image.Status.REJECTED, sha256=SHA)
    make_image(order, Image.Status.REJECTED, sha256=SHA)
    assert Image.objects.filter(order=order, sha256=SHA).count() == 3


def test_a_duplicate_cannot_be_moved_out_of_rejected(order, make_image):
    make_image(order, sha256=SHA)
    duplicate = make_image(order, Image.Status.REJECTED, sha256=SHA)
    with pytest.raises(IntegrityError), transaction.atomic():
        Image.objects.filter(pk=duplicate.pk).update(status=Image.Status.UPLOADED)


def test_images_without_a_hash_are_not_compared(order, make_image):
    make_image(order, sha256="")
    make_image(order, sha256="")
    assert Image.objects.filter(order=order, sha256="").count() == 2


def test_same_bytes_in_different_orders_are_fine(manager, make_order, make_image):
    make_image(make_order(manager), sha256=SHA)
    make_image(make_order(manager), sha256=SHA)
    assert Image.objects.filter(sha256=SHA).count() == 2


def test_order_status_must_be_a_known_status(order):
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(status="shipped")
    assert Order.objects.get(pk=order.pk).status == Order.Status.DRAFT


def test_order_created_with_an_unknown_status_is_refused(order):
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            order_ref="ORD-1999-999999",
            event=order.event,
            customer_name="X",
            order_date=order.order_date,
            created_by=order.created_by,
            status="bogus",
        )
    assert not Order.objects.filter(order_ref="ORD-1999-999999").exists()


@pytest.mark.parametrize("counter", ["processed_images", "ingested_images", "synced_images"])
def test_order_counters_cannot_exceed_the_total(order, counter):
    Order.objects.filter(pk=order.pk).update(total_images=2, **{counter: 2})
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(**{counter: 3})


def test_image_status_must_be_a_known_status(order, make_image):
    image = make_image(order)
    with pytest.raises(IntegrityError), transaction.atomic():
        Image.objects.filter(pk=image.pk).update(status="lost")


def test_order_refs_are_unique(order):
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            order_ref=order.order_ref,
            event=order.event,
            customer_name="X",
            order_date=order.order_date,
            created_by=order.created_by,
        )


def test_timeline_numbers_are_unique_per_order(order):
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderEvent.objects.create(order=order, seq=1, kind="duplicate")
