"""Helpers for the order tests: images with real (tiny) files, orders in any state."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from django.core.files.base import ContentFile

from accounts.roles import MANAGER
from orders.models import Image, Order
from tests.conftest import make_user

_image_counter = itertools.count(1)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture
def make_image(media_root):
    """Create an Image row directly (the upload service comes later), in any status."""

    def _make(
        order: Order,
        status: str = Image.Status.UPLOADED,
        *,
        sha256: str | None = None,
        name: str = "photo.jpg",
    ) -> Image:
        content = f"image bytes {next(_image_counter)}".encode()
        return Image.objects.create(
            order=order,
            original=ContentFile(content, name=name),
            original_filename=name,
            file_size=len(content),
            mime_type="image/jpeg",
            sha256=hashlib.sha256(content).hexdigest() if sha256 is None else sha256,
            status=status,
        )

    return _make


@pytest.fixture
def manager(db):
    return make_user(MANAGER)


@pytest.fixture
def order_in(manager, make_order):
    """An order created by ``manager`` through the service, put straight into ``status``.

    Only a setup step: no service call, so no timeline row for the jump.
    """

    def _make(status: str, **kwargs) -> Order:
        order = make_order(manager, **kwargs)
        Order.objects.filter(pk=order.pk).update(status=status)
        order.refresh_from_db()
        return order

    return _make
