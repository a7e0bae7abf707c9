"""Fixtures of the fault drills: one installation per module (``stack``), orders sent through
its REST API by an external system (``send_order``), and the checks every drill ends with
(``assert_delivered_once``: completed, every image in the PMR exactly once, no orphan file).
"""

from __future__ import annotations

import io
import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.core.management.base import CommandError
from django.core.management.commands import flush
from django.db import OperationalError
from PIL import Image as PILImage

from accounts import api_keys
from accounts.roles import MANAGER
from ai_processing.simulator.gemini import GeminiSimulator
from ai_processing.simulator.server import RunwareSimulator
from events.models import Event
from orders.models import Image, Order
from pmr.simulator import PMRSimulator
from tests.ai_processing.pipeline import different_photos, preset
from tests.conftest import make_user

from .stack import PrivateRedis, Stack, stack_env

_events = itertools.count(1)
#: The preset of the drills' orders: analysis (local), edit and caption (Runware).
PRESET = "natural-retouch"


@pytest.fixture(scope="module")
def simulators() -> Iterator[dict]:
    with (
        PMRSimulator(port=0) as pmr,
        RunwareSimulator(seed=11) as runware,
        GeminiSimulator() as gemini,
    ):
        yield {"pmr": pmr, "runware": runware, "gemini": gemini}


@pytest.fixture(scope="module")
def stack(django_db_setup, simulators, tmp_path_factory) -> Iterator[Stack]:
    """Redis, web, beat and the three workers, up for the whole module.

    The drills are transactional tests: the database is flushed after each, which gives the
    content types new ids; the processes forget the ids they cached (tests/drills/apps.py).
    """
    base = tmp_path_factory.mktemp("drill")
    logs = base / "logs"
    logs.mkdir()
    media = base / "media"
    media.mkdir()
    private = PrivateRedis(base / "redis", logs / "redis.log")
    private.start()
    env = stack_env(private.url, media, simulators)
    from rkh_site.embedded_redis import free_port

    stack = Stack(private, env, logs, media, free_port())
    stack.broker = Celery_for(private.url)
    try:
        for name in ("web", "ingest", "ai", "pmr", "beat"):
            stack.start(name)
        yield stack
    finally:
        stack.stop_all()
        private.stop()


def Celery_for(url: str):
    from celery import Celery

    return Celery("drill-control", broker=url, set_as_current=False)


@pytest.fixture
def media(stack, settings) -> Path:
    settings.MEDIA_ROOT = str(stack.media_root)
    return stack.media_root


def drill_photos(n: int, long_side: int = 1600) -> list[bytes]:
    """``n`` (up to 10) photos no two of which are near-duplicates, as camera-sized JPEGs."""
    files = []
    for data in different_photos(n):
        picture = PILImage.open(io.BytesIO(data)).convert("RGB")
        scale = long_side / max(picture.size)
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
        # New bytes every time: no AI result cached by an earlier drill makes this one instant.
        picture.putpixel((0, 0), tuple(secrets.token_bytes(3)))
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=88)
        files.append(out.getvalue())
    return files


@dataclass
class SentOrder:
    ref: str
    pk: int
    images: int
    api: httpx.Client

    def order(self) -> Order:
        return Order.objects.get(pk=self.pk)


@pytest.fixture
def external_system(stack, simulators, media):
    """An API client of a Manager, and an event open in the PMR: ``(client, event)``."""
    preset(PRESET)  # the seeded presets, again (the flush after the last drill emptied them)
    # Order references start again after each drill's flush: the PMR starts afresh too.
    simulators["pmr"].reset()
    simulators["runware"].core.faults.update({"latency": 0.0})
    event = Event.objects.create(event_id=f"DRILL-{next(_events):03d}", name="Drill")
    simulators["pmr"].add_events(
        [{"event_id": event.event_id, "name": event.name, "status": "open"}], []
    )
    _, key = api_keys.create_key(make_user(MANAGER), "drill")
    with httpx.Client(
        base_url=f"{stack.web_url}/api/v1",
        headers={"Authorization": f"Api-Key {key}"},
        timeout=30,
    ) as client:
        yield client, event


@pytest.fixture
def send_order(external_system) -> Callable[..., SentOrder]:
    """``send_order(n, submit=True, pause=0, between=None)``: create an order through the API,
    upload ``n`` photos (``between(i)`` called after each), and submit it."""
    client, event = external_system

    def _send(n: int, *, submit: bool = True, pause: float = 0.0, between=None) -> SentOrder:
        created = client.post(
            "/orders", json={"event": event.event_id, "customer_name": "Drill", "preset": PRESET}
        )
        assert created.status_code == 201, created.text
        ref = created.json()["order_ref"]
        for i, data in enumerate(drill_photos(n)):
            answer = client.post(
                f"/orders/{ref}/images", files={"file": (f"IMG_{i:04d}.jpg", data, "image/jpeg")}
            )
            assert answer.status_code == 201, answer.text
            if between is not None:
                between(i)
            time.sleep(pause)
        if submit:
            answer = client.post(f"/orders/{ref}/submit")
            assert answer.status_code == 200, answer.text
        return SentOrder(ref, Order.objects.get(order_ref=ref).pk, n, client)

    return _send


def wait_for(what: str, check: Callable[[], bool], stack: Stack, seconds: float) -> float:
    """Poll ``check`` until it holds; the seconds it took (fails with the logs otherwise)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}\n{stack.logs()}")


def completed(sent: SentOrder, sim: PMRSimulator) -> Callable[[], bool]:
    def check() -> bool:
        if not Order.objects.filter(pk=sent.pk, status=Order.Status.COMPLETED).exists():
            return False
        remote = remote_order(sim, sent.ref)
        return remote is not None and remote["status"] == "completed"

    return check


def remote_order(sim: PMRSimulator, ref: str) -> dict | None:
    return next((o for o in sim.state()["orders"] if o["order_ref"] == ref), None)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def referenced_files(order: Order) -> set[str]:
    names = set()
    for image in Image.objects.filter(order=order):
        for field in (image.original, image.preview, image.thumbnail, image.processed):
            if field.name:
                names.add(field.name)
    return names


def assert_delivered_once(sent: SentOrder, sim: PMRSimulator, media: Path) -> None:
    """Completed here and at the PMR, every image stored there exactly once, no orphan."""
    order = sent.order()
    assert order.status == Order.Status.COMPLETED
    statuses = list(Image.objects.filter(order=order).values_list("status", flat=True))
    assert statuses == [Image.Status.SYNCED] * sent.images, statuses
    remote = remote_order(sim, sent.ref)
    assert remote["status"] == "completed"
    assert remote["expected_image_count"] == sent.images
    assert len(remote["images"]) == sent.images
    assert [image["writes"] for image in remote["images"]] == [1] * sent.images
    # Every file of every image (original, edited, prints) stored once; the originals are the
    # bytes the studio received.
    files = remote["files"]
    assert [f["writes"] for f in files] == [1] * len(files)
    received = dict(Image.objects.filter(order=order).values_list("pk", "sha256"))
    originals = {f["image_ref"]: f["sha256"] for f in files if f["variant"] == "original"}
    assert originals == {f"img-{pk}": sha for pk, sha in received.items()}
    edited = Image.objects.filter(order=order).exclude(processed="").count()
    assert sum(f["variant"] == "edited" for f in files) == edited
    stored = {
        name
        for name in files_under(media)
        if name.startswith((f"originals/{order.pk}/", f"renditions/{order.pk}/"))
    }
    orphans = stored - referenced_files(order)
    assert not orphans, f"files no row names: {sorted(orphans)}"
    assert referenced_files(order) <= stored, "a row names a file that is not there"


@pytest.fixture(autouse=True)
def _project_celery_app_stays_current():
    """The drills' control apps talk to a Redis that is gone afterwards; were one of them the
    current Celery app, every later test's ``.delay()`` would go to that dead broker."""
    yield
    from celery import current_app

    assert current_app.main == "rkh_site", f"current Celery app is {current_app.main!r}"


@pytest.fixture(autouse=True, scope="module")
def _flush_survives_the_running_stack():
    """The stack's processes keep working (beat sweeps every 2 s) while pytest-django flushes
    the database after a drill; TRUNCATE takes its table locks one by one, and a worker's
    transaction holding one and asking for another makes PostgreSQL end one of them as a
    deadlock — sometimes the flush (an error at teardown of a drill that passed). The flush runs
    in a transaction of its own, so it is simply tried again."""
    original = flush.Command.handle

    def handle(self, **options):
        for attempt in range(5):
            try:
                return original(self, **options)
            except CommandError as exc:
                cause = exc.__cause__
                if not isinstance(cause, OperationalError) or "deadlock" not in str(cause):
                    raise
                if attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
        return None

    flush.Command.handle = handle
    yield
    flush.Command.handle = original
