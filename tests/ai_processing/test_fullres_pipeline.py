"""Full resolution in the pipeline: an edit preset ends with a file of the original's size.

- With a real Celery worker (``ingest,ai``) and the Runware simulator answering the edit at
  Nano Banana's 1248 x 832: the processed file is the original's 2400 x 1600, made by the
  tonal transfer, with the caption's XMP in it, and says so in ``ai_metadata`` and in the
  provider trail a reviewer sees.
- The pipeline's full-resolution step on a content change (a generative answer): the answer
  is enlarged to the original's size, and the enlargement's trail follows the verdict.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import pyvips
from PIL import Image as PILImage

from ai_processing import services
from ai_processing.providers.base import EditResult
from ai_processing.selectors import trail_lines
from ai_processing.simulator.server import RunwareSimulator
from ai_processing.xmp import read_xmp
from orders import intake
from orders.models import Image, Order
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.ai_processing.test_fullres import camera_like, downscale, jpeg_bytes
from tests.workers import celery_worker

WAIT_SECONDS = 120
ORIGINAL = (2400, 1600)


@pytest.fixture
def runware() -> Iterator[RunwareSimulator]:
    with RunwareSimulator() as simulator:
        yield simulator


@pytest.fixture
def worker(runware, ai_settings, media_root, tmp_path, settings) -> Iterator[Path]:
    import redis

    redis.Redis.from_url(settings.REDIS_URL).delete(
        *[f"rkh:ai:breaker:{name}" for name in ("runware", "local")]
    )
    env = {
        "AI_PROVIDERS": "runware,local",
        "AI_PROVIDER_CONCURRENCY": '{"runware": 2, "local": 2}',
        "RUNWARE_URL": runware.ws_url,
        "RUNWARE_API_KEY": "test-key",
    }
    with celery_worker("ingest,ai", media_root=media_root, log_dir=tmp_path, env=env) as log:
        yield log


def _size(path: Path) -> tuple[int, int]:
    image = pyvips.Image.new_from_file(str(path))
    return image.width, image.height


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_edit_preset_ends_with_a_processed_file_of_the_originals_size(
    worker, manager, make_order, media_root
):
    order = make_order(manager, preset=preset("natural-retouch"))  # analyze, edit, caption
    data = jpeg_bytes(camera_like("chelsea.png", ORIGINAL), quality=92)
    image = intake.add_image(order, source=io.BytesIO(data), filename="IMG_0001.jpg", actor=manager)

    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if Order.objects.filter(pk=order.pk, ai_processed=True).exists():
            break
        time.sleep(0.2)
    else:
        image.refresh_from_db()
        pytest.fail(
            f"not AI-processed: {image.status} {image.status_reason}\n{worker.read_text()[-3000:]}"
        )

    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED, image.status_reason
    assert (image.width, image.height) == ORIGINAL
    edit = image.ai_metadata["edit"]
    assert edit["model"] == "google:4@1"
    assert (edit["details"]["width"], edit["details"]["height"]) == (1248, 832)
    processed = Path(media_root) / image.processed.name
    assert _size(processed) == ORIGINAL
    caption = image.ai_metadata["caption"]["caption"]
    (packet,) = read_xmp(processed.read_bytes())  # the caption is in the full-size file
    assert caption.encode() in packet
    full = image.ai_metadata[services.FULL_RESOLUTION]
    assert full["method"] == "tonal transfer"
    assert full["answer_size"] == [1248, 832]
    assert full["fit"]["tonal"]
    assert full["fit"]["psnr_db"] >= 28
    assert [s["provider"] for s in image.ai_metadata["trail"]["full_resolution"]] == ["fullres"]
    assert any("tonal transfer to 2400x1600" in line for line in trail_lines(image))


@pytest.mark.django_db(transaction=True)
def test_a_generative_answer_is_enlarged_to_the_originals_size(
    ai_settings, manager, make_order, media_root
):
    order = make_order(manager, preset=preset("studio-background"))
    original = camera_like("coffee.png", ORIGINAL)
    image = intake.add_image(
        order, source=io.BytesIO(jpeg_bytes(original)), filename="IMG_0002.jpg", actor=manager
    )
    intake.ingest_image(image.pk)
    image.refresh_from_db()
    answer = downscale(original, (1248, 832)).copy()
    answer[:, :500] = np.array([200, 200, 204], np.uint8)  # a new backdrop: content, not tone
    out = io.BytesIO()
    PILImage.fromarray(answer).save(out, format="JPEG", quality=95)
    result = EditResult(image_bytes=out.getvalue(), mime_type="image/jpeg", model="google:4@1")

    full = services._full_resolution(image, result)

    picture = pyvips.Image.new_from_buffer(full.data, "")
    assert (picture.width, picture.height) == ORIGINAL
    assert full.metadata["method"] == "generative"
    assert full.metadata["fit"]["tonal"] is False
    assert full.metadata["enlarged"]["size"] == list(ORIGINAL)
    assert full.trail[0]["provider"] == "fullres"
    assert "generative edit" in full.trail[0]["reason"]
    assert len(full.trail) >= 2  # the enlargement's own steps follow
