"""The hand-written rows of the order and image serializers equal DRF's generic ones.

``OrderSerializer`` and ``ImageSerializer`` write their dictionaries by hand (issue 14: DRF
walking every field of every row was half of a list page's CPU). These tests put the same
objects through DRF's generic ``ModelSerializer.to_representation`` and compare, for rows with
every optional field empty and set, and in a time zone other than UTC, so a field added to
``Meta.fields`` but not to the hand-written row (or written differently) fails here.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from ai_processing.models import ProcessingPreset
from orders.api import ImageSerializer, OrderSerializer
from orders.models import Image, Order

pytestmark = pytest.mark.django_db


def _context() -> dict:
    request = APIRequestFactory().get("/api/v1/orders", HTTP_HOST="testserver")
    return {"request": request, "format": None}


def _generic(serializer_class, instance) -> dict:
    """What DRF's generic path writes for ``instance`` (the hand-written row bypassed)."""
    serializer = serializer_class(instance, context=_context())
    return serializers.ModelSerializer.to_representation(serializer, instance)


def _fast(serializer_class, instance) -> dict:
    return serializer_class(instance, context=_context()).data


def _same(serializer_class, instance) -> dict:
    generic, fast = _generic(serializer_class, instance), _fast(serializer_class, instance)
    assert list(fast) == list(generic), "fields or their order differ"
    # Compared as the client receives them (DRF's Hyperlink is a str subclass).
    assert JSONRenderer().render(fast) == JSONRenderer().render(generic)
    assert fast == generic
    return fast


@pytest.fixture
def bare_order(users, make_order) -> Order:
    return make_order(users["User"])


@pytest.fixture
def full_order(users, make_order) -> Order:
    preset = ProcessingPreset.objects.filter(is_active=True).first()
    assert preset is not None
    order = make_order(
        users["Manager"],
        customer_email="kunde@example.com",
        notes="Bitte matt drucken",
        assigned_to=users["User"],
        metadata={"po": "4711", "nested": {"a": [1, 2.5, None, "ü"]}},
        preset=preset,
        expected_images=12,
    )
    now = timezone.now()
    Order.objects.filter(pk=order.pk).update(
        submitted_at=now,
        approval_due_at=now + timedelta(hours=3, microseconds=17),
        completed_at=now + timedelta(days=1),
        approval_owner_may_approve=True,
        ai_processed=True,
        pmr_synced=True,
        total_images=7,
        failed_images=2,
        review_images=1,
    )
    return Order.objects.select_related("event", "preset").get(pk=order.pk)


def test_an_order_with_its_optional_fields_empty(bare_order):
    row = _same(OrderSerializer, bare_order)
    assert row["preset"] is None
    assert row["assigned_to"] is None
    assert row["completed_at"] is None


def test_an_order_with_every_field_set(full_order):
    row = _same(OrderSerializer, full_order)
    assert row["preset"] == full_order.preset.slug
    assert row["image_counts"]["failed"] == 2
    assert row["url"].endswith(f"/api/v1/orders/{full_order.order_ref}")


def test_an_order_in_another_time_zone(full_order):
    with timezone.override("Asia/Kolkata"):
        row = _same(OrderSerializer, full_order)
    assert row["created_at"].endswith("+05:30")


def test_a_list_page_writes_each_row_as_the_generic_path(full_order, bare_order):
    orders = list(Order.objects.select_related("event", "preset").order_by("id"))
    many = OrderSerializer(orders, many=True, context=_context()).data
    assert json.loads(JSONRenderer().render(many)) == [
        json.loads(JSONRenderer().render(_generic(OrderSerializer, o))) for o in orders
    ]


def test_images_fresh_and_fully_set(bare_order):
    first = Image.objects.create(order=bare_order, original_filename="a.jpg")
    now = timezone.now()
    second = Image.objects.create(
        order=bare_order,
        original_filename="b.jpg",
        file_size=123456,
        mime_type="image/jpeg",
        width=6000,
        height=4000,
        sha256="ab" * 32,
        status=Image.Status.NEEDS_REVIEW,
        status_reason="Looks like a.jpg",
        duplicate_of=first,
        ingested_at=now,
        ai_analyzed=True,
        ai_metadata={"caption": "Ein Bild", "tags": ["x"]},
        metadata={"exif": {"Make": "Canon"}},
        pmr_url="https://pmr.example/images/1",
        approved_at=now,
    )
    for image in (first, second):
        image.refresh_from_db()
        _same(ImageSerializer, image)
    with timezone.override("America/New_York"):
        assert _same(ImageSerializer, second)["duplicate_of"] == first.pk
