"""Helpers for the AI pipeline tests: presets, settings, orders with ingested photos.

The pipeline tests import the ``*_fixture`` functions, which register the fixtures
under their plain names (the directory has no conftest of its own).
"""

from __future__ import annotations

import importlib
import io

import pytest
from PIL import Image as PILImage

from accounts.roles import MANAGER
from ai_processing.models import ProcessingPreset
from orders import intake
from orders.models import Image, Order
from tests.conftest import make_user
from tests.orders.intake import photos

SEED = importlib.import_module("ai_processing.migrations.0002_seed_presets")


def preset(slug: str) -> ProcessingPreset:
    """A seeded preset (made again when a transactional test emptied the table)."""
    data = next(p for p in SEED.PRESETS if p["slug"] == slug)
    return ProcessingPreset.objects.get_or_create(slug=slug, defaults=data)[0]


def different_photos(n: int) -> list[bytes]:
    """``n`` photos no two of which are near-duplicates (as in the ingest parallel test)."""
    names = ["coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg", "camera.png"]
    files = []
    for name in names:
        image = photos.photo(name)
        files.append(photos.jpeg(image))
        files.append(photos.jpeg(image.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)))
    return files[:n]


@pytest.fixture(name="media_root")
def media_root_fixture(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture(name="ai_settings")
def ai_settings_fixture(settings, media_root):
    settings.AI_PROVIDERS = ["local"]
    settings.AI_PROVIDER_CONCURRENCY = {"local": 2}
    settings.AI_DEFAULT_PRESET = "analyze-only"
    return settings


@pytest.fixture(name="manager")
def manager_fixture(db):
    return make_user(MANAGER)


@pytest.fixture(name="ingested_order")
def ingested_order_fixture(manager, make_order, ai_settings):
    """``ingested_order(slug, n)``: an order with ``n`` photos uploaded and ingested.

    The last ingest moves the order to processing; its AI work is left to the test.
    """

    def _make(slug: str | None = "colour-correct-only", n: int = 1) -> Order:
        order = make_order(manager, preset=preset(slug) if slug else None)
        for i, data in enumerate(different_photos(n)):
            image = intake.add_image(
                order, source=io.BytesIO(data), filename=f"IMG_{i:04d}.jpg", actor=manager
            )
            intake.ingest_image(image.pk)
        order.refresh_from_db()
        assert order.status == Order.Status.PROCESSING
        assert not Image.objects.filter(order=order).exclude(status=Image.Status.INGESTED)
        return order

    return _make
