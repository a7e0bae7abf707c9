"""Fixtures for the ingest tests: an order, and upload-then-ingest through the real services."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from orders import intake
from orders.models import Image, Order


@pytest.fixture
def order(manager, make_order, media_root) -> Order:
    return make_order(manager)


@pytest.fixture
def add(manager) -> Callable[..., Image]:
    """``add(order, data, name)``: the upload service, as the pages and the API call it."""

    def _add(order: Order, data: bytes, name: str = "photo.jpg") -> Image:
        return intake.add_image(order, source=io.BytesIO(data), filename=name, actor=manager)

    return _add


@pytest.fixture
def ingest(django_capture_on_commit_callbacks) -> Callable[[Image], Image]:
    """Run the ingest service on an image, with its after-commit file deletions."""

    def _ingest(image: Image) -> Image:
        with django_capture_on_commit_callbacks(execute=True):
            result = intake.ingest_image(image.pk)
        assert result.status != Image.Status.UPLOADED
        return Image.objects.get(pk=image.pk)

    return _ingest


@pytest.fixture
def upload(add, ingest) -> Callable[..., Image]:
    """``upload(order, data, name)``: add the file, then ingest it as the worker would."""

    def _upload(order: Order, data: bytes, name: str = "photo.jpg") -> Image:
        image = add(order, data, name)
        return ingest(image) if image.status == Image.Status.UPLOADED else image

    return _upload


@pytest.fixture
def stored_files(media_root) -> Callable[[], list[Path]]:
    """Every file under the test's MEDIA_ROOT, as paths relative to it."""
    root = Path(media_root)

    def _files() -> list[Path]:
        return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())

    return _files
