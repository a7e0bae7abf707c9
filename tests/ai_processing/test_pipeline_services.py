"""The AI pipeline services on real PostgreSQL and Redis, with the local provider only."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from ai_processing import services
from ai_processing.models import ProcessingPreset
from ai_processing.timeline import AI_COMPLETED
from orders import services as order_services
from orders.models import Image, Order, OrderEvent
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)

S = Image.Status
pytestmark = pytest.mark.django_db


def _events(order: Order, kind: str) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order=order, kind=kind).order_by("seq"))


def _image_moves(image: Image) -> list[tuple[str, str]]:
    return [
        (e.payload["from"], e.payload["to"])
        for e in _events(image.order, OrderEvent.Kind.IMAGE_STATUS)
        if e.payload["image"] == image.pk
    ]


def test_colour_correct_only_processes_the_image(ingested_order, media_root):
    order = ingested_order("colour-correct-only")
    image = order.images.get()

    result = services.process_image(image.pk)

    assert result.status == S.PROCESSED, result.status_reason
    image.refresh_from_db()
    assert image.ai_analyzed
    facts = image.ai_metadata["analyze"]["facts"]
    assert {"sharpness", "exposure", "noise", "resolution"} <= set(facts)
    assert set(image.ai_metadata["trail"]) == {"analyze", "edit"}
    for op in ("analyze", "edit"):
        assert image.ai_metadata["trail"][op][-1]["provider"] == "local"
        assert image.ai_metadata["trail"][op][-1]["outcome"] in ("ok", "cache")
    assert image.ai_metadata["edit"]["mime_type"] == "image/jpeg"
    assert "attempts" not in image.ai_metadata
    processed = Path(media_root) / image.processed.name
    assert image.processed.name.startswith(f"renditions/{order.pk}/")
    assert processed.is_file()
    assert processed.read_bytes()[:3] == b"\xff\xd8\xff"
    assert processed.read_bytes() != (Path(media_root) / image.original.name).read_bytes()
    assert image.ai_cost == Decimal(0)
    assert _image_moves(image)[-2:] == [(S.INGESTED, S.ANALYZED), (S.ANALYZED, S.PROCESSED)]

    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING  # the PMR step moves it on
    assert order.ai_processed
    assert order.ai_cost == Decimal(0)
    assert order.processed_images == 1
    completed = _events(order, AI_COMPLETED)
    assert len(completed) == 1
    assert completed[0].payload["images"] == {S.PROCESSED: 1}


def test_running_twice_changes_nothing(ingested_order):
    order = ingested_order("colour-correct-only")
    image = order.images.get()
    services.process_image(image.pk)
    image.refresh_from_db()
    seq = Order.objects.get(pk=order.pk).last_event_seq

    again = services.process_image(image.pk)

    assert again.status == S.PROCESSED
    after = Image.objects.get(pk=image.pk)
    assert after.processed.name == image.processed.name
    assert after.ai_metadata == image.ai_metadata
    assert after.ai_cost == image.ai_cost
    assert Order.objects.get(pk=order.pk).last_event_seq == seq
    assert len(_events(order, AI_COMPLETED)) == 1


def test_costs_add_up_only_for_calls_paid_now(ingested_order, monkeypatch):
    """A fresh provider result adds its cost; a result reused from the cache costs nothing."""
    order = ingested_order("analyze-only")
    image = order.images.get()
    from ai_processing.providers.local import LocalProvider

    real = LocalProvider.analyze

    def paid(self, source):
        result = real(self, source)
        return type(result)(facts=result.facts, model=result.model, cost=0.25)

    monkeypatch.setattr(LocalProvider, "analyze", paid)
    monkeypatch.setattr(LocalProvider, "model", f"paid-{image.pk}-{order.pk}-{id(order)}")
    services.process_image(image.pk)
    image.refresh_from_db()
    assert image.ai_metadata["trail"]["analyze"][-1]["outcome"] == "ok"
    assert image.ai_cost == Decimal("0.25")
    assert Order.objects.get(pk=order.pk).ai_cost == Decimal("0.25")


def test_natural_retouch_with_local_only_needs_review(ingested_order, media_root):
    order = ingested_order("natural-retouch")
    image = order.images.get()

    result = services.process_image(image.pk)

    assert result.status == S.NEEDS_REVIEW
    assert result.status_reason.startswith("No AI provider could caption: local unsupported")
    assert "writes no captions" in result.status_reason
    image.refresh_from_db()
    assert image.ai_metadata["trail"]["caption"][0]["outcome"] == "unsupported"
    assert "caption" not in {k for k in image.ai_metadata if k != "trail"}
    # The edit that succeeded is kept for the reviewer.
    assert (Path(media_root) / image.processed.name).is_file()
    order.refresh_from_db()
    assert order.status == Order.Status.NEEDS_REVIEW
    assert not order.ai_processed
    assert order.review_images == 1


def test_order_without_preset_uses_the_default(ingested_order, media_root):
    order = ingested_order(None)
    image = order.images.get()
    result = services.process_image(image.pk)
    assert result.status == S.PROCESSED
    image.refresh_from_db()
    assert image.ai_analyzed
    assert not image.processed.name  # analyze only: the original is used
    assert set(image.ai_metadata["trail"]) == {"analyze"}


def test_missing_default_preset_sends_to_review(ingested_order, ai_settings):
    ai_settings.AI_DEFAULT_PRESET = "no-such-preset"
    order = ingested_order(None)
    result = services.process_image(order.images.get().pk)
    assert result.status == S.NEEDS_REVIEW
    assert "'no-such-preset' does not exist" in result.status_reason


def test_resumes_from_analyzed_without_analysing_again(ingested_order, monkeypatch):
    order = ingested_order("colour-correct-only")
    image = order.images.get()
    services.process_image(image.pk)
    # As if the worker died after storing the analysis: back to analyzed.
    Image.objects.filter(pk=image.pk).update(status=S.ANALYZED, processed="")
    from ai_processing.providers.local import LocalProvider

    def boom(self, source):
        raise AssertionError("analysed again")

    monkeypatch.setattr(LocalProvider, "analyze", boom)
    result = services.process_image(image.pk)
    assert result.status == S.PROCESSED
    assert Image.objects.get(pk=image.pk).processed.name


def test_unexpected_error_fails_the_image_with_a_reason(ingested_order, monkeypatch):
    order = ingested_order("colour-correct-only")
    image = order.images.get()

    def broken():
        raise RuntimeError("kaput")

    monkeypatch.setattr(services, "_chain", broken)
    result = services.process_image(image.pk)
    assert result.status == S.FAILED
    assert "internal error (RuntimeError)" in result.status_reason
    assert "kaput" in Image.objects.get(pk=image.pk).ai_metadata["failure"]["detail"]
    assert services.process_image(image.pk).status == S.FAILED  # not picked up again


def test_deliveries_that_keep_dying_end_in_failed(ingested_order):
    order = ingested_order("colour-correct-only")
    image = order.images.get()
    Image.objects.filter(pk=image.pk).update(ai_metadata={"attempts": services.MAX_AI_ATTEMPTS})
    result = services.process_image(image.pk)
    assert result.status == S.FAILED
    assert "stopped after 3 attempts" in result.status_reason


def test_entering_processing_queues_the_order_after_commit(
    manager, make_order, ai_settings, monkeypatch, django_capture_on_commit_callbacks
):
    from ai_processing import tasks

    queued = []
    monkeypatch.setattr(tasks.process_order, "delay", queued.append)
    order = make_order(manager)
    with django_capture_on_commit_callbacks(execute=True):
        order_services.change_order_status(order, Order.Status.PENDING)
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        order_services.change_order_status(order, Order.Status.PROCESSING)
    assert queued == [order.pk]


def test_start_order_processing_queues_each_waiting_image(
    ingested_order, monkeypatch, django_capture_on_commit_callbacks
):
    from ai_processing import tasks

    queued = []
    monkeypatch.setattr(tasks.process_image, "delay", queued.append)
    order = ingested_order("analyze-only", n=3)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.start_order_processing(order.pk) == 3
    assert sorted(queued) == sorted(order.images.values_list("pk", flat=True))


def test_order_with_nothing_to_process_is_settled_at_once(ingested_order):
    order = ingested_order("analyze-only", n=2)
    first, second = order.images.all()
    order_services.change_image_status(first, S.NEEDS_REVIEW, reason="looks like another")
    services.process_image(second.pk)  # the last waiting image settles the order
    order.refresh_from_db()
    assert order.status == Order.Status.NEEDS_REVIEW
    assert services.start_order_processing(order.pk) == 0


# --- review queue (admin actions) ----------------------------------------------


def _admin_action(client, user, action: str, image: Image):
    client.force_login(user)
    return client.post(
        reverse("admin:orders_image_changelist"),
        {"action": action, "_selected_action": [image.pk]},
        follow=True,
    )


def test_approve_action_marks_processed_and_completes_the_order(
    ingested_order, client, manager, django_capture_on_commit_callbacks, monkeypatch
):
    from ai_processing import tasks

    monkeypatch.setattr(
        tasks.process_order, "delay", lambda pk: services.start_order_processing(pk)
    )
    order = ingested_order("natural-retouch")
    image = order.images.get()
    services.process_image(image.pk)
    assert Order.objects.get(pk=order.pk).status == Order.Status.NEEDS_REVIEW

    with django_capture_on_commit_callbacks(execute=True):
        response = _admin_action(client, manager, "approve_images", image)

    assert response.status_code == 200
    assert "1 image(s) approved" in response.content.decode()
    image.refresh_from_db()
    assert image.status == S.PROCESSED
    approval = [e for e in _events(order, OrderEvent.Kind.IMAGE_STATUS) if e.actor == manager]
    assert approval[-1].payload["reason"] == "approved by a reviewer"
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert order.ai_processed
    assert len(_events(order, AI_COMPLETED)) == 1


def test_redo_action_sends_the_image_through_again(
    ingested_order, client, manager, django_capture_on_commit_callbacks, monkeypatch
):
    from ai_processing import tasks

    queued = []
    monkeypatch.setattr(tasks.process_image, "delay", queued.append)
    order = ingested_order("natural-retouch")
    image = order.images.get()
    services.process_image(image.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = _admin_action(client, manager, "redo_images", image)

    assert "1 image(s) queued for AI processing again" in response.content.decode()
    assert queued == [image.pk]
    image.refresh_from_db()
    assert image.status == S.INGESTED
    assert not image.ai_analyzed
    assert image.ai_metadata[services.REDO] is True
    # A redo asks for new work: the providers run again instead of the cache answering.
    again = services.process_image(image.pk)
    assert again.status == S.NEEDS_REVIEW
    meta = Image.objects.get(pk=image.pk).ai_metadata
    assert meta["trail"]["analyze"][-1] == {**meta["trail"]["analyze"][-1], "outcome": "ok"}
    assert services.REDO not in meta
    # Without a redo, a second run of the same work is answered from the cache.
    services.redo_image(again)
    image_meta = Image.objects.get(pk=image.pk).ai_metadata
    image_meta.pop(services.REDO)
    Image.objects.filter(pk=image.pk).update(ai_metadata=image_meta)
    services.process_image(image.pk)
    trail = Image.objects.get(pk=image.pk).ai_metadata["trail"]
    assert trail["analyze"][-1]["outcome"] == "cache"


def test_review_actions_check_access(ingested_order, client, users):
    order = ingested_order("natural-retouch")
    image = order.images.get()
    services.process_image(image.pk)
    outsider = users["other"]  # a plain user who neither made nor was given the order
    with pytest.raises(PermissionDenied):
        services.approve_image(image, actor=outsider)
    with pytest.raises(PermissionDenied):
        services.redo_image(image, actor=outsider)
    assert Image.objects.get(pk=image.pk).status == S.NEEDS_REVIEW


def test_approving_an_image_not_in_review_is_refused(ingested_order, manager):
    from utilities.errors import OrderError

    order = ingested_order("analyze-only")
    image = order.images.get()
    with pytest.raises(OrderError):
        services.approve_image(image, actor=manager)
    assert ProcessingPreset.objects.filter(slug="analyze-only").exists()


def test_approving_a_duplicate_flagged_at_ingest_sends_it_to_ai(
    ingested_order, manager, monkeypatch, django_capture_on_commit_callbacks
):
    from ai_processing import tasks

    queued = []
    monkeypatch.setattr(tasks.process_image, "delay", queued.append)
    order = ingested_order("analyze-only", n=2)
    first = order.images.first()
    order_services.change_image_status(first, S.NEEDS_REVIEW, reason="looks like another")
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_image(first, actor=manager)
    assert Image.objects.get(pk=first.pk).status == S.INGESTED
    assert queued == [first.pk]


def test_images_of_a_cancelled_order_are_left_alone(ingested_order):
    order = ingested_order("analyze-only")
    order_services.change_order_status(order, Order.Status.CANCELLED)
    image = order.images.get()
    assert services.process_image(image.pk).status == S.INGESTED
    assert not Image.objects.get(pk=image.pk).ai_metadata


def test_a_second_delivery_steps_aside_while_the_first_holds_the_image(ingested_order, settings):
    """The image's lease: a task that finds another delivery working on the image leaves it
    alone (no attempt counted, no provider called, nothing recorded)."""
    import redis

    order = ingested_order("colour-correct-only")
    image = order.images.get()
    seq = Order.objects.get(pk=order.pk).last_event_seq
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"rkh:ai:image:{image.pk}"
    client.set(key, "another-task", ex=60)
    try:
        result = services.process_image(image.pk)
        assert result.status == S.INGESTED
        image.refresh_from_db()
        assert "attempts" not in image.ai_metadata
        assert not image.ai_analyzed
        assert Order.objects.get(pk=order.pk).last_event_seq == seq
    finally:
        client.delete(key)

    assert services.process_image(image.pk).status == S.PROCESSED
    assert client.get(key) is None  # released after the run


def test_images_of_a_pending_order_are_processed_before_the_order_is_complete(
    manager, make_order, ai_settings
):
    """AI work starts per image as soon as it passes ingest; the order settles (AI completed)
    only when it enters processing, through the same path as before."""
    import io

    from orders import intake
    from tests.ai_processing.pipeline import different_photos

    order = make_order(manager, preset=preset("colour-correct-only"))
    first_data, second_data = different_photos(2)
    first = intake.add_image(order, source=io.BytesIO(first_data), filename="a.jpg", actor=manager)
    second = intake.add_image(
        order, source=io.BytesIO(second_data), filename="b.jpg", actor=manager
    )
    intake.ingest_image(first.pk)
    assert services.process_image(first.pk).status == S.PROCESSED
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING  # b.jpg still waits for ingest
    assert not order.ai_processed
    assert not _events(order, AI_COMPLETED)

    intake.ingest_image(second.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert services.start_order_processing(order.pk) == 1  # only b.jpg still waits
    assert services.process_image(second.pk).status == S.PROCESSED
    order.refresh_from_db()
    assert order.ai_processed
    completed = _events(order, AI_COMPLETED)
    assert len(completed) == 1
    assert completed[0].payload["images"] == {S.PROCESSED: 2}
