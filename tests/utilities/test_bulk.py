"""``utilities.bulk.update_column``: one column of many rows, each its own value."""

from __future__ import annotations

import pytest

from orders.models import Image
from pmr.models import OutboxEntry
from utilities import bulk

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["postgresql", "other"])
def vendor(request, monkeypatch):
    """The PostgreSQL statement, and the ``bulk_update`` other databases (SQLite) get."""
    from django.db import connection

    if request.param == "other":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    return request.param


def test_each_row_gets_its_own_value_and_the_others_stay(ai_done_rows, vendor):
    first, second, third = ai_done_rows
    answers = {
        first.pk: {"url": "https://pmr/1", "nested": {"a": [1, 2]}},
        second.pk: {"url": 'it\'s "quoted"'},
        987654321: {"url": "no such row"},
    }
    assert bulk.update_column(OutboxEntry, "response", answers) == 2
    stored = dict(OutboxEntry.objects.values_list("pk", "response"))
    assert stored[first.pk] == answers[first.pk]
    assert stored[second.pk] == answers[second.pk]
    assert stored[third.pk] == {}
    assert bulk.update_column(OutboxEntry, "response", {}) == 0


def test_a_text_column(ai_done_rows, vendor):
    images = list(Image.objects.filter(pmr_outbox__in=ai_done_rows).distinct())
    urls = {image.pk: f"https://pmr/{image.pk}/{'x' * 300}" for image in images}
    assert bulk.update_column(Image, "pmr_url", urls) == len(images)
    assert dict(Image.objects.filter(pk__in=urls).values_list("pk", "pmr_url")) == urls


@pytest.fixture
def ai_done_rows(make_order, users, media_root):
    from django.db import transaction

    from pmr import outbox
    from tests.pmr.conftest import add_processed_images

    order = make_order(users["Manager"])
    add_processed_images(order, 2)
    with transaction.atomic():
        outbox.deliver(order)
    return list(OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.IMAGE_PUT))[:3]


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path
