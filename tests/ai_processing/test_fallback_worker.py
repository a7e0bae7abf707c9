"""The fallback chain in a real worker: Runware refuses, Gemini is down, local does what it can.

One Celery worker (``ingest,ai``) runs with ``AI_PROVIDERS=runware,gemini,local``
against the two simulators, started in this process: Runware rejects every
authentication and Gemini answers every request 503. The edit falls through to
the local provider; the caption, which only Runware and Gemini can write, sends
the image to the review queue with the reason. Then both providers come back and
a reviewer's redo goes through Runware, first in the chain again.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ai_processing import services
from ai_processing.simulator.gemini import GeminiSimulator
from ai_processing.simulator.server import RunwareSimulator
from orders import intake
from orders.models import Image, Order
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.workers import celery_worker

WAIT_SECONDS = 90

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def simulators() -> Iterator[tuple[RunwareSimulator, GeminiSimulator]]:
    with RunwareSimulator(auth_fail=True) as runware, GeminiSimulator(error_rate=1.0) as gemini:
        yield runware, gemini


@pytest.fixture
def worker(simulators, ai_settings, media_root, tmp_path, settings) -> Iterator[Path]:
    import redis

    redis.Redis.from_url(settings.REDIS_URL).delete(
        *[f"rkh:ai:breaker:{name}" for name in ("runware", "gemini", "local")]
    )
    runware, gemini = simulators
    env = {
        "AI_PROVIDERS": "runware,gemini,local",
        "AI_PROVIDER_CONCURRENCY": '{"runware": 2, "gemini": 2, "local": 2}',
        "RUNWARE_URL": runware.ws_url,
        "RUNWARE_API_KEY": "test-key",
        "GEMINI_BASE_URL": gemini.url,
        "GEMINI_API_KEY": "test-key",
    }
    with celery_worker("ingest,ai", media_root=media_root, log_dir=tmp_path, env=env) as log:
        yield log


def _wait_for(image_id: int, statuses: set[str], log: Path) -> Image:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        image = Image.objects.get(pk=image_id)
        if image.status in statuses:
            return image
        time.sleep(0.2)
    pytest.fail(f"image still {image.status} ({image.status_reason})\n{log.read_text()[-3000:]}")


def _fresh_photo() -> bytes:
    import secrets

    from tests.orders.intake import photos

    picture = photos.photo("rocket.jpg").convert("RGB")
    picture.putpixel((0, 0), tuple(secrets.token_bytes(3)))
    return photos.jpeg(picture)


def _providers(trail: list[dict]) -> list[tuple[str, str]]:
    return [(step["provider"], step["outcome"]) for step in trail]


def test_runware_down_then_gemini_down_then_local_then_review(
    worker, simulators, manager, make_order, media_root
):
    runware, gemini = simulators
    order = make_order(manager, preset=preset("natural-retouch"))  # analyze, edit, caption
    data = _fresh_photo()  # new bytes each run: no result cached by an earlier run
    image = intake.add_image(order, source=io.BytesIO(data), filename="IMG_1.jpg", actor=manager)

    image = _wait_for(image.pk, {Image.Status.NEEDS_REVIEW, Image.Status.FAILED}, worker)
    assert image.status == Image.Status.NEEDS_REVIEW
    assert image.status_reason.startswith("No AI provider could caption")
    trail = image.ai_metadata["trail"]
    edit = _providers(trail["edit"])
    assert [p for p, _ in edit] == ["runware", "gemini", "local"]
    assert edit[-1] == ("local", "ok")
    assert all(outcome != "ok" for _, outcome in edit[:2])
    assert "refused the API key" in trail["edit"][0]["reason"]
    assert [p for p, _ in _providers(trail["caption"])] == ["runware", "gemini", "local"]
    assert _providers(trail["caption"])[-1] == ("local", "unsupported")
    # The local edit is stored and is not the original.
    processed = Path(media_root) / image.processed.name
    assert processed.read_bytes() != (Path(media_root) / image.original.name).read_bytes()
    # The simulators saw the attempts: Runware refused to authenticate, Gemini answered 503.
    assert httpx.get(f"{runware.http_url}/_sim/state").json()["auth_failed"] >= 1
    assert httpx.get(f"{gemini.url}/_sim/state").json()["statuses"].get("503", 0) >= 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.NEEDS_REVIEW

    # Both providers recover; a reviewer redoes the image: Runware, first in the chain, does it.
    httpx.post(f"{runware.http_url}/_sim/faults", json={"auth_fail": False}).raise_for_status()
    httpx.post(f"{gemini.url}/_sim/faults", json={"error_rate": 0}).raise_for_status()
    services.redo_image(image, actor=manager)
    image = _wait_for(image.pk, {Image.Status.PROCESSED, Image.Status.NEEDS_REVIEW}, worker)
    assert image.status == Image.Status.PROCESSED, image.status_reason
    assert _providers(image.ai_metadata["trail"]["edit"]) == [("runware", "ok")]
    assert _providers(image.ai_metadata["trail"]["caption"]) == [("runware", "ok")]
    assert image.ai_metadata["caption"]["caption"]
    assert Order.objects.get(pk=order.pk).ai_cost > 0
