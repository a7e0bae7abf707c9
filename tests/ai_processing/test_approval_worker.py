"""Hold for approval with a real Celery worker (ingest, AI, PMR) and the PMR simulator: the
"Done when" of issue 16 (print-grade results, approved by a person before they leave).

An order of 24 MP photos with prints ordered, whose edit preset holds it, goes through ingest
and the AI step by itself (the Runware simulator answers the edit at the model's ~1 MP; the
tonal transfer carries it onto the 24 MP original) and stops in ``awaiting_approval``: the PMR
simulator holds none of its images and the outbox no upload. Approved through the API, the
same worker delivers it: completed, and the PMR holds per image its original (the bytes as
uploaded), a 24 MP edited file and each print at or above the ordered DPI, each written once.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import pyvips

from ai_processing.models import ProcessingPreset
from ai_processing.simulator.server import RunwareSimulator
from ai_processing.timeline import AI_COMPLETED
from orders import intake, print_services
from orders.models import Image, Order, OrderEvent
from pmr.models import OutboxEntry
from pmr.outbox import image_ref
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    manager_fixture,
    media_root_fixture,
)
from tests.api.conftest import key_client
from tests.pmr.conftest import pmr_event, remote_order, sim  # noqa: F401 (fixtures)
from tests.workers import celery_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
WAIT_SECONDS = 240
#: Two photos (as fast as the proof can be): the PMR gets 4 files of each.
PHOTO_NAMES = ("chelsea.png", "coffee.png")


def wait_for(what: str, check: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text()[-4000:]}")


#: A 24 MP camera's frame (6000 x 4000).
MP24 = (6000, 4000)
PHOTOS = Path("/work/shared/data/photos")


def photo_24mp(name: str) -> bytes:
    """``name`` from the shared photos enlarged (Lanczos) and centre-cropped to 6000 x 4000,
    as a camera JPEG: real picture content at a studio's size."""
    source = PHOTOS / name
    if not source.exists():
        source = Path(__file__).resolve().parents[1] / "data" / "photos" / name
    picture = pyvips.Image.new_from_file(str(source)).autorot()
    if picture.hasalpha():
        picture = picture.flatten(background=[255, 255, 255])
    picture = picture.colourspace("srgb")
    scale = max(MP24[0] / picture.width, MP24[1] / picture.height) * 1.001
    big = picture.resize(scale, kernel="lanczos3")
    left, top = (big.width - MP24[0]) // 2, (big.height - MP24[1]) // 2
    return big.crop(left, top, *MP24).jpegsave_buffer(Q=90)


@pytest.fixture
def runware() -> Iterator[RunwareSimulator]:
    with RunwareSimulator() as simulator:
        yield simulator


def test_a_held_order_waits_then_is_delivered_once_after_approval(
    runware,
    sim,  # noqa: F811
    pmr_event,  # noqa: F811
    manager,
    make_order,
    ai_settings,
    media_root,
    tmp_path,
    settings,
):
    import redis

    redis.Redis.from_url(settings.REDIS_URL).delete(
        *[f"rkh:ai:breaker:{name}" for name in ("runware", "local")]
    )
    settings.PRINT_MIN_DPI = 300
    env = {
        "AI_PROVIDERS": "runware,local",
        "AI_PROVIDER_CONCURRENCY": '{"runware": 2, "local": 2}',
        "RUNWARE_URL": runware.ws_url,
        "RUNWARE_API_KEY": "test-key",
        "DJANGO_SETTINGS_MODULE": "tests.pmr.worker_settings",
        "PMR_BASE_URL": sim.base_url,
        "PMR_CLIENT_ATTEMPTS": "1",
        "PMR_RETRY_BASE_SECONDS": "0.2",
        "PRINT_MIN_DPI": "300",
    }
    held = ProcessingPreset.objects.create(
        name="Colour, approved",
        slug="colour-approved",
        operations=["analyze", "edit"],
        edit_prompt="Correct exposure and white balance only.",
        hold_for_approval=True,
    )
    order = make_order(manager, preset=held)
    print_services.set_order_prints(
        order, [{"size": "4x6", "quantity": 2}, {"size": "8x10", "quantity": 1}], actor=manager
    )
    uploaded = {f"IMG_{i}.jpg": photo_24mp(name) for i, name in enumerate(PHOTO_NAMES)}
    with celery_worker("ingest,ai,pmr", media_root=media_root, log_dir=tmp_path, env=env) as log:
        for filename, data in uploaded.items():
            intake.add_image(order, source=io.BytesIO(data), filename=filename, actor=manager)
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
        assert remote is None or (remote["images"] == [] and remote["files"] == [])
        assert not OutboxEntry.objects.filter(
            order=order, kind__in=(OutboxEntry.Kind.IMAGE_PUT, OutboxEntry.Kind.ORDER_FINISH)
        ).exists()

        client, _ = key_client(manager)  # approved through the API, as a studio's tool would
        response = client.post(f"/api/v1/orders/{order.order_ref}/approve")
        assert response.status_code == 200, response.content
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
    n = len(uploaded)
    assert len(remote["images"]) == n
    assert [image["writes"] for image in remote["images"]] == [1] * n
    # Per image: the original, the edited file and one print per size ordered, each once.
    files = {(f["image_ref"], f["variant"], f["print_size"]): f for f in remote["files"]}
    assert len(files) == len(remote["files"]) == 4 * n
    assert {f["writes"] for f in files.values()} == {1}
    assert OutboxEntry.objects.filter(order=order, kind=OutboxEntry.Kind.IMAGE_PUT).count() == 4 * n
    for image in order.images.all():
        # The model answered small (Runware's google:4@1 sizes); the tonal transfer made 24 MP.
        assert image.ai_metadata["full_resolution"]["method"] == "tonal transfer", image.ai_metadata
        ref = image_ref(image)
        original = files[(ref, "original", None)]
        stored = sim.core.blobs.path(original["sha256"]).read_bytes()
        assert stored == uploaded[image.original_filename]  # the bytes as uploaded
        edited = pyvips.Image.new_from_file(
            str(sim.core.blobs.path(files[(ref, "edited", None)]["sha256"]))
        )
        assert (edited.width, edited.height) == MP24  # 24 MP, not the model's small answer
        assert original["dpi"] == files[(ref, "edited", None)]["dpi"] == 500  # 8x10 on 24 MP
        for size, inches in (("4x6", (6, 4)), ("8x10", (10, 8))):
            printed = files[(ref, "print", size)]
            assert printed["dpi"] >= 300
            picture = pyvips.Image.new_from_file(str(sim.core.blobs.path(printed["sha256"])))
            assert picture.width / inches[0] >= 300
            assert picture.height / inches[1] >= 300
            assert round(picture.xres * 25.4) == printed["dpi"]
    events = list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))
    assert events.count(AI_COMPLETED) == 1
    assert events.count(OrderEvent.Kind.ORDER_APPROVED) == 1
