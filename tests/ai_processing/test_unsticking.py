"""People unstick orders (issue 11): staff re-queue stuck or failed images from the admin, and
decide a delivery without the failed images from the admin or the order page. The AI step's
sweep queues again what nobody works on."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.roles import USER
from ai_processing import services, sweep
from orders.models import Image, Order, OrderEvent
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.conftest import make_user
from utilities.leases import Claim, exclusive
from utilities.redis_clients import client_for

S = Image.Status
pytestmark = pytest.mark.django_db


def _failed_order(ingested_order, monkeypatch) -> tuple[Order, Image]:
    order = ingested_order("colour-correct-only", n=2)
    good, bad = order.images.order_by("pk")
    services.process_image(good.pk)
    with monkeypatch.context() as patch:
        patch.setattr(services, "_chain", lambda: (_ for _ in ()).throw(RuntimeError("bug")))
        services.process_image(bad.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.NEEDS_REVIEW
    return order, Image.objects.get(pk=bad.pk)


def test_staff_requeue_a_stuck_ai_step_from_the_image_admin(
    client, ingested_order, manager, monkeypatch
):
    queued: list[int] = []
    monkeypatch.setattr(services, "queue_image", queued.append)
    order = ingested_order("colour-correct-only")
    image = order.images.get()  # ingested; its AI message was lost
    client.force_login(manager)
    response = client.post(
        "/admin/orders/image/",
        {"action": "requeue_images", "_selected_action": [image.pk]},
        follow=True,
    )
    assert "1 image(s) queued again." in response.content.decode()
    event = OrderEvent.objects.get(order=order, kind=OrderEvent.Kind.IMAGE_REQUEUED)
    assert event.payload == {"image": image.pk, "step": "ai"}
    assert event.actor == manager


def test_staff_requeue_every_stuck_or_failed_image_of_an_order(
    client, ingested_order, manager, monkeypatch, django_capture_on_commit_callbacks
):
    order, bad = _failed_order(ingested_order, monkeypatch)
    queued: list[int] = []
    monkeypatch.setattr(services, "queue_image", queued.append)
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/orders/order/",
            {"action": "requeue_orders", "_selected_action": [order.pk]},
            follow=True,
        )
    assert "1 image(s) queued again." in response.content.decode()
    assert queued == [bad.pk]
    assert Image.objects.get(pk=bad.pk).status == S.INGESTED


def test_a_manager_delivers_without_the_failed_images_from_the_order_page(
    client, ingested_order, manager, monkeypatch
):
    order, bad = _failed_order(ingested_order, monkeypatch)
    client.force_login(manager)
    page = client.get(f"/orders/{order.order_ref}/").content.decode()
    assert 'data-testid="held-failed"' in page
    assert bad.original_filename in page
    assert 'data-testid="deliver-without-failed"' in page
    assert "Stopped before delivery: 1 image failed" in page  # the timeline says why

    response = client.post(f"/orders/{order.order_ref}/deliver-without-failed/", follow=True)

    assert response.status_code == 200
    assert "goes to the PMR without its failed images" in response.content.decode()
    assert Image.objects.get(pk=bad.pk).status == S.REJECTED
    order.refresh_from_db()
    assert order.ai_processed
    decided = OrderEvent.objects.get(order=order, kind=OrderEvent.Kind.ORDER_PARTIAL_DELIVERY)
    assert decided.actor == manager
    page = client.get(f"/orders/{order.order_ref}/").content.decode()
    assert f"Delivered without the failed images: {bad.original_filename}" in page


def test_the_owner_sees_the_failures_but_may_not_deliver_short(client, ingested_order, monkeypatch):
    order, bad = _failed_order(ingested_order, monkeypatch)
    owner = make_user(USER)
    Order.objects.filter(pk=order.pk).update(created_by=owner)
    client.force_login(owner)
    page = client.get(f"/orders/{order.order_ref}/").content.decode()
    assert bad.original_filename in page
    assert 'data-testid="deliver-without-failed"' not in page
    response = client.post(f"/orders/{order.order_ref}/deliver-without-failed/")
    assert response.status_code == 403
    assert Image.objects.get(pk=bad.pk).status == S.FAILED


def test_the_admin_action_delivers_without_the_failed_images(
    client, ingested_order, manager, monkeypatch
):
    order, bad = _failed_order(ingested_order, monkeypatch)
    client.force_login(manager)
    response = client.post(
        "/admin/orders/order/",
        {"action": "deliver_without_failed", "_selected_action": [order.pk]},
        follow=True,
    )
    assert "1 order(s) go to the PMR without their failed images." in response.content.decode()
    assert Image.objects.get(pk=bad.pk).status == S.REJECTED


def test_the_sweep_requeues_a_lost_ai_step_and_settles_a_forgotten_order(
    ingested_order, monkeypatch, settings
):
    settings.STUCK_AFTER_SECONDS = 60
    queued: list[int] = []
    monkeypatch.setattr(services, "queue_image", queued.append)
    order = ingested_order("colour-correct-only", n=2)
    lost, running = order.images.order_by("pk")
    old = timezone.now() - dt.timedelta(seconds=120)
    Image.objects.filter(order=order).update(updated_at=old)
    client = client_for(settings.REDIS_URL)
    client.delete(f"rkh:sweep:ai:{lost.pk}", f"rkh:sweep:ai:{running.pk}")

    with exclusive(client, services.lease_key(running.pk), 30) as held:
        assert held
        assert sweep.sweep()["ai_requeued"] == 1
    assert queued == [lost.pk]

    # Both done, but the settling was lost with a crash: the sweep settles the order.
    for image in (lost, running):
        services.process_image(image.pk)
    Order.objects.filter(pk=order.pk).update(ai_processed=False, updated_at=old)
    assert sweep.settle_finished_orders() == 1
    assert Order.objects.get(pk=order.pk).ai_processed


def test_the_orphan_sweep_requeues_at_once_what_a_killed_worker_held(
    ingested_order, monkeypatch, settings
):
    """A worker killed mid-image leaves its claim (utilities.leases): once the lease ran out
    the image is queued again, although it moved a moment ago (the stuck sweep would wait
    STUCK_AFTER_SECONDS); an image a live worker holds is left alone; each orphan once."""
    from ai_processing import tasks

    settings.STUCK_AFTER_SECONDS = 600
    queued: list[int] = []
    monkeypatch.setattr(services, "queue_image", queued.append)
    order = ingested_order("colour-correct-only", n=3)
    orphan, running, waiting = order.images.order_by("pk")
    client = client_for(settings.REDIS_URL)
    client.delete(services.CLAIMS_KEY, *(f"rkh:sweep:ai:{i.pk}" for i in (orphan, running)))
    # What a worker killed while holding the orphan's lease leaves once that lease ran out.
    client.sadd(services.CLAIMS_KEY, str(orphan.pk))
    claim = Claim(services.CLAIMS_KEY, str(running.pk))

    with exclusive(client, services.lease_key(running.pk), 30, claim=claim) as held:
        assert held
        assert sweep.sweep()["ai_requeued"] == 0  # nothing unmoved for 600 s
        assert tasks.sweep_orphaned() == 1
        assert tasks.sweep_orphaned() == 0
    assert queued == [orphan.pk]
    assert client.exists(f"rkh:sweep:ai:{orphan.pk}")  # the stuck sweep leaves it be a while
    assert client.smembers(services.CLAIMS_KEY) == set()
    assert waiting.pk not in queued


def test_an_ai_step_claims_its_image_while_it_runs(ingested_order, settings, monkeypatch):
    order = ingested_order("colour-correct-only", n=1)
    (image,) = order.images.all()
    client = client_for(settings.REDIS_URL)
    client.delete(services.CLAIMS_KEY)
    seen: list[set] = []
    work = services._process_held

    def watched(image_id):
        seen.append(client.smembers(services.CLAIMS_KEY))
        return work(image_id)

    monkeypatch.setattr(services, "_process_held", watched)
    services.process_image(image.pk)
    assert seen == [{str(image.pk).encode()}]  # while it ran
    assert Image.objects.get(pk=image.pk).status == S.PROCESSED
    assert client.smembers(services.CLAIMS_KEY) == set()  # and not after
