"""Rejecting an image in review (discarding a near-duplicate): state, files, timeline, audit,
counters, and the order settling exactly as after an approval."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from ai_processing import services
from ai_processing.timeline import AI_COMPLETED
from orders import intake
from orders.models import Image, Order, OrderEvent
from pmr.models import OutboxEntry
from tests.ai_processing.review import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    camera_photo,
    in_review_fixture,
    ingested_order_fixture,
    manager_fixture,
    many_in_review_fixture,
    media_root_fixture,
    near_duplicate_fixture,
)
from tests.conftest import make_user
from tests.orders.intake import photos
from utilities.errors import OrderError

S = Image.Status
pytestmark = pytest.mark.django_db


def _files(image: Image) -> list[str]:
    return [
        getattr(image, name).name
        for name in ("original", "preview", "thumbnail", "processed")
        if getattr(image, name).name
    ]


def test_reject_keeps_the_row_and_deletes_every_file_after_commit(
    in_review, media_root, manager, django_capture_on_commit_callbacks
):
    image = in_review("colour-correct-only")
    stored = _files(image)
    assert len(stored) >= 3  # original, preview, thumbnail (and maybe an edit)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.reject_image(image, actor=manager, reason="  out of   focus ")
    # Until the commit the files are still there (a rolled back answer loses nothing).
    assert all((Path(media_root) / name).is_file() for name in stored)
    for callback in callbacks:
        callback()
    assert not any((Path(media_root) / name).exists() for name in stored)
    image.refresh_from_db()
    assert image.status == S.REJECTED
    assert image.status_reason == "Rejected by a reviewer: out of focus"
    assert image.review_reason == ""
    assert _files(image) == []
    assert image.metadata["rejection"]["code"] == services.REJECTED_IN_REVIEW
    assert image.metadata["rejection"]["detail"] == "out of focus"
    assert image.metadata["rejection"]["by"] == manager.pk
    assert image.width  # the ingest facts stay with the row
    move = OrderEvent.objects.filter(order=image.order, kind=OrderEvent.Kind.IMAGE_STATUS).last()
    assert move.actor == manager
    assert (move.payload["from"], move.payload["to"]) == (S.NEEDS_REVIEW, S.REJECTED)
    assert move.payload["reason"] == "Rejected by a reviewer: out of focus"


@pytest.mark.parametrize("answer", ["approve", "reject"])
def test_the_last_answer_moves_the_order_on_either_way(many_in_review, manager, answer):
    """Approve and reject settle the order the same way: back to processing, AI done, PMR."""
    first, second = many_in_review(2)
    call = services.approve_image if answer == "approve" else services.reject_image
    call(first, actor=manager)
    order = Order.objects.get(pk=first.order_id)
    assert order.status == Order.Status.NEEDS_REVIEW  # one still waits
    assert not order.ai_processed
    call(second, actor=manager)
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert order.ai_processed
    assert order.review_images == 0
    done = S.PROCESSED if answer == "approve" else S.REJECTED
    assert (order.processed_images, order.rejected_images) == (
        (2, 0) if answer == "approve" else (0, 2)
    )
    assert set(order.images.values_list("status", flat=True)) == {done}
    kinds = list(order.timeline.values_list("kind", flat=True))
    assert kinds.count(AI_COMPLETED) == 1
    statuses = [e.payload["to"] for e in order.timeline.filter(kind=OrderEvent.Kind.ORDER_STATUS)]
    assert statuses[-2:] == [Order.Status.NEEDS_REVIEW, Order.Status.PROCESSING]
    # The delivery starts: its rows are in the outbox (images only for what was approved).
    kinds = set(OutboxEntry.objects.filter(order=order).values_list("kind", flat=True))
    assert OutboxEntry.Kind.ORDER_FINISH in kinds
    assert (OutboxEntry.Kind.IMAGE_PUT in kinds) == (answer == "approve")


def test_discarding_a_near_duplicate_says_what_it_repeated(near_duplicate, manager):
    copy, original = near_duplicate()
    services.reject_image(copy, actor=manager)
    copy.refresh_from_db()
    assert copy.status == S.REJECTED
    # The other order's image is not named in this order's timeline: its users may differ.
    assert copy.status_reason == (
        "Discarded by a reviewer as a near-duplicate of another image of this event."
    )
    assert copy.duplicate_of_id == original.pk  # kept for the record
    order = Order.objects.get(pk=copy.order_id)
    assert order.ai_processed  # its only image is answered
    original.refresh_from_db()
    assert original.status == S.INGESTED  # untouched
    assert _files(original)


def test_a_near_duplicate_in_the_same_order_is_named(near_duplicate, manager):
    copy, _ = near_duplicate(same_order=True)
    services.reject_image(copy, actor=manager)
    copy.refresh_from_db()
    assert copy.status_reason == "Discarded by a reviewer as a near-duplicate of IMG_0420.jpg."
    # The order still waits for the AI step of the original.
    order = Order.objects.get(pk=copy.order_id)
    assert not order.ai_processed


def test_the_same_file_may_be_uploaded_again_after_a_rejection(
    near_duplicate, manager, django_capture_on_commit_callbacks
):
    copy, _ = near_duplicate()
    # Another file still on its way keeps the order open (once every image is answered the
    # order is handed to the PMR, and a handed-over order takes no more images).
    intake.add_image(
        Order.objects.get(pk=copy.order_id),
        source=io.BytesIO(camera_photo("coffee.png")),
        filename="still_coming.jpg",
        actor=manager,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_image(copy, actor=manager)
    again = intake.add_image(
        Order.objects.get(pk=copy.order_id),
        source=io.BytesIO(photos.blurred_copy(camera_photo())),
        filename="copy_of_0420.jpg",
        actor=manager,
    )
    assert again.status == S.UPLOADED  # not refused as an exact repeat of the rejected row


def test_a_stale_or_forbidden_reject_changes_nothing(in_review, manager):
    image = in_review()
    with pytest.raises(PermissionDenied):
        services.reject_image(image, actor=make_user("User"))
    services.approve_image(image, actor=manager)
    with pytest.raises(OrderError, match="is not waiting for review"):
        services.reject_image(image, actor=manager)
    image.refresh_from_db()
    assert image.status == S.PROCESSED
    assert _files(image)


@pytest.mark.parametrize("role", ["Admin", "Manager"])
def test_reject_from_the_page_is_audited_with_the_reviewer(client, in_review, media_root, role):
    image = in_review()
    manager = make_user(role)
    client.force_login(manager)
    response = client.post(
        reverse("review_reject", args=[image.pk]), {"reason": "wrong customer", "back": "?q=IMG"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("review_queue") + "?q=IMG"
    page = client.get(response["Location"]).content.decode()
    assert "IMG_0000.jpg rejected; its files are deleted." in page
    image.refresh_from_db()
    assert image.status == S.REJECTED
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Image), object_pk=str(image.pk)
    ).order_by("pk")
    changes = {}
    for entry in entries.filter(actor=manager):
        changes.update(entry.changes_dict)
    assert changes["status"] == [S.NEEDS_REVIEW, S.REJECTED]
    assert changes["original"][1] in ("", "None")
    # A second answer to the same image is a sentence, not an error page.
    response = client.post(reverse("review_reject", args=[image.pk]), follow=True)
    assert response.status_code == 200
    assert "is not waiting for review" in response.content.decode()


def test_the_admin_rejects_too(client, in_review, manager):
    image = in_review()
    client.force_login(manager)
    response = client.post(
        reverse("admin:orders_image_changelist"),
        {"action": "reject_images", "_selected_action": [image.pk]},
        follow=True,
    )
    assert "1 image(s) rejected." in response.content.decode()
    image.refresh_from_db()
    assert image.status == S.REJECTED
    assert Order.objects.get(pk=image.order_id).ai_processed
