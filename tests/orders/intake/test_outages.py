"""Intake through outages and crashes (issue 11, items 1, 4 and 10).

- A broker that is away when a committed change queues its next step loses nothing: the
  rows and their files stay, the caller is not failed, the sweep queues the work later.
- A worker killed mid-ingest leaves no orphan file: the next attempt deletes what it wrote.
- Stuck images are queued again by the sweep, once per period, never while a worker has them.

The broker's refusal is the outside edge, so ``delay`` is replaced by one that raises what
kombu raises when Redis does not answer.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from events.models import Event
from orders import intake, sweep
from orders.models import Image, Order, OrderEvent
from tests.orders.intake import photos
from utilities.leases import exclusive
from utilities.redis_clients import client_for

S = Image.Status


def _broker_down(*args, **kwargs):
    raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def _files(media_root) -> set[str]:
    root = Path(media_root)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _referenced() -> set[str]:
    names = set()
    for image in Image.objects.all():
        for field in (image.original, image.preview, image.thumbnail, image.processed):
            if field.name:
                names.add(field.name)
    return names


@pytest.mark.django_db(transaction=True)
def test_broker_away_when_an_upload_commits_keeps_the_file(order, manager, monkeypatch):
    from orders import tasks

    monkeypatch.setattr(tasks.ingest_image, "delay", _broker_down)
    image = intake.add_image(
        order, source=io.BytesIO(photos.jpeg()), filename="a.jpg", actor=manager
    )  # no error for the uploader: the file is in

    image.refresh_from_db()
    assert image.status == S.UPLOADED
    assert Path(image.original.path).is_file()


@pytest.mark.django_db(transaction=True)
def test_broker_away_when_an_ingest_commits_keeps_the_renditions(
    order, manager, monkeypatch, media_root
):
    from ai_processing import tasks as ai_tasks

    image = intake.add_image(
        order, source=io.BytesIO(photos.jpeg()), filename="a.jpg", actor=manager
    )
    monkeypatch.setattr(ai_tasks.process_image, "delay", _broker_down)
    monkeypatch.setattr(ai_tasks.process_order, "delay", _broker_down)

    result = intake.ingest_image(image.pk)

    assert result.status == S.INGESTED
    image.refresh_from_db()
    assert image.preview.name
    assert image.thumbnail.name
    assert Path(image.preview.path).is_file()
    assert Path(image.thumbnail.path).is_file()
    assert _files(media_root) == _referenced()


@pytest.mark.django_db
def test_a_killed_ingest_leaves_no_orphan_files(order, add, ingest, media_root, monkeypatch):
    """The worker dies after writing the renditions, before the commit: the next attempt
    deletes them (they were announced first) and writes its own."""
    image = add(order, photos.jpeg(), "a.jpg")

    class Killed(BaseException):  # SIGKILL stand-in: nothing after it runs
        pass

    def die(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(Event.objects, "select_for_update", die)  # the first lock of the verdict
        with pytest.raises(Killed):
            intake.ingest_image(image.pk)
    # _accept's clean-up ran here; a real kill skips it: put the files back as a kill leaves them
    announced = Image.objects.get(pk=image.pk).metadata[intake.FILES_IN_PROGRESS]
    for name in announced:
        path = Path(media_root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left by a killed worker")
    assert set(announced) <= _files(media_root)

    assert ingest(image).status == S.INGESTED

    assert _files(media_root) == _referenced()
    assert intake.FILES_IN_PROGRESS not in Image.objects.get(pk=image.pk).metadata


@pytest.mark.django_db
def test_an_order_whose_every_image_failed_at_ingest_stops_as_failed(order, add, ingest, manager):
    images = [add(order, photos.jpeg(quality=q), f"{q}.jpg") for q in (70, 80)]
    for image in images:
        Path(image.original.path).write_bytes(b"changed under us")  # a storage fault
        assert ingest(image).status == S.FAILED
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED
    stopped = OrderEvent.objects.get(order=order, kind=OrderEvent.Kind.ORDER_STOPPED_SHORT)
    assert stopped.payload["failed_count"] == 2

    Path(images[0].original.path).write_bytes(photos.jpeg(quality=70))  # repaired
    intake.retry_ingest(images[0], actor=manager)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


# --- the sweep -------------------------------------------------------------------------------


@pytest.fixture
def stuck(settings):
    """Make images look unmoved for longer than STUCK_AFTER_SECONDS."""
    settings.STUCK_AFTER_SECONDS = 60
    client = client_for(settings.REDIS_URL)

    def _stuck(image: Image) -> Image:
        Image.objects.filter(pk=image.pk).update(
            updated_at=timezone.now() - dt.timedelta(seconds=120)
        )
        client.delete(f"rkh:sweep:ingest:{image.pk}", f"rkh:sweep:ai:{image.pk}")
        return image

    return _stuck


@pytest.mark.django_db
def test_the_sweep_queues_a_lost_ingest_once_and_never_while_a_worker_has_it(
    order, add, stuck, monkeypatch
):
    queued: list[int] = []
    monkeypatch.setattr(intake, "_queue_ingest", queued.append)
    image = stuck(add(order, photos.jpeg(), "a.jpg"))  # its message was lost
    fresh = add(order, photos.jpeg(quality=60), "b.jpg")  # queued a moment ago: not stuck

    with exclusive(client_for(settings.REDIS_URL), intake.lease_key(image.pk), 30) as held:
        assert held  # a worker is ingesting it
        assert sweep.sweep()["ingest_requeued"] == 0
    assert sweep.sweep()["ingest_requeued"] == 1
    assert sweep.sweep()["ingest_requeued"] == 0  # once per period
    assert image.pk in queued
    assert fresh.pk not in queued


@pytest.mark.django_db
def test_an_ingest_killed_mid_way_is_queued_again_once_its_lease_ran_out(order, add, monkeypatch):
    """A worker killed mid-ingest leaves its claim (utilities.leases); the orphan sweep queues
    the image again without waiting STUCK_AFTER_SECONDS; a running ingest claims its image."""
    from orders import tasks

    queued: list[int] = []
    client = client_for(settings.REDIS_URL)
    client.delete(intake.CLAIMS_KEY)
    image = add(order, photos.jpeg(), "a.jpg")
    seen: list[set] = []
    work = intake._ingest_held

    def killed(held):  # the worker dies here: its claim stays, its lease runs out
        seen.append(client.smembers(intake.CLAIMS_KEY))
        raise SystemExit

    monkeypatch.setattr(intake, "_ingest_held", killed)
    with pytest.raises(SystemExit):
        intake.ingest_image(image.pk)
    assert seen == [{str(image.pk).encode()}]
    # SystemExit still ran the release on its way out; a kill -9 would not have: put back
    # what it leaves (the claim; its lease is gone once it ran out).
    client.sadd(intake.CLAIMS_KEY, str(image.pk))
    client.delete(f"rkh:sweep:ingest:{image.pk}")
    monkeypatch.setattr(intake, "_queue_ingest", queued.append)
    monkeypatch.setattr(intake, "_ingest_held", work)

    assert sweep.sweep()["ingest_requeued"] == 0  # it moved a moment ago: not stuck
    assert tasks.sweep_orphaned_ingest() == 1
    assert tasks.sweep_orphaned_ingest() == 0
    assert queued == [image.pk]
    intake.ingest_image(image.pk)  # the message it was queued with
    assert Image.objects.get(pk=image.pk).status != Image.Status.UPLOADED
    assert client.smembers(intake.CLAIMS_KEY) == set()


@pytest.mark.django_db
def test_staff_requeue_a_stuck_upload(order, add, ingest, manager):
    image = add(order, photos.jpeg(), "a.jpg")
    intake.INGEST.count_attempt(image.pk)  # one delivery died with its worker
    requeued = intake.retry_ingest(image, actor=manager)
    assert requeued.status == S.UPLOADED
    assert "ingest_attempts" not in requeued.metadata
    event = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.IMAGE_REQUEUED).get()
    assert event.actor == manager
    assert event.payload == {"image": image.pk, "step": "ingest"}


@pytest.mark.django_db
def test_ingest_with_redis_away_raises_for_a_retry_and_leaves_the_image(order, add, settings):
    image = add(order, photos.jpeg(), "a.jpg")
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    with pytest.raises(redis.exceptions.ConnectionError):
        intake.ingest_image(image.pk)
    assert Image.objects.get(pk=image.pk).status == S.UPLOADED
