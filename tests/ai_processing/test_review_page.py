"""The review queue page: who may see and answer it, and each of the three answers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image as PILImage

from ai_processing import services
from orders.models import Image, Order, OrderEvent
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.conftest import make_user

S = Image.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def in_review(ingested_order, settings):
    """An order whose one image no provider could edit: it waits for review."""

    def _make(slug: str = "colour-correct-only") -> Image:
        order = ingested_order(slug)
        image = order.images.get()
        settings.AI_PROVIDERS = []  # nobody can do anything: the chain gives up
        result = services.process_image(image.pk)
        assert result.status == S.NEEDS_REVIEW, result.status_reason
        settings.AI_PROVIDERS = ["local"]
        return Image.objects.select_related("order").get(pk=image.pk)

    return _make


def _client_as(client, role: str | None):
    if role == "anonymous":
        return client
    client.force_login(make_user(role))
    return client


@pytest.mark.parametrize(
    ("role", "expected"),
    [("Admin", 200), ("Manager", 200), ("User", 403), ("Viewer", 403), (None, 403)],
)
def test_who_may_open_the_queue(client, in_review, role, expected):
    image = in_review()
    response = _client_as(client, role).get(reverse("review_queue"))
    assert response.status_code == expected
    if expected == 200:
        assert image.original_filename in response.content.decode()
        assert b'data-testid="nav-review"' in response.content


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(reverse("review_queue"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


@pytest.mark.parametrize("answer", ["review_approve", "review_redo", "review_upload"])
@pytest.mark.parametrize("role", ["User", "Viewer", None])
def test_only_reviewers_may_answer(client, in_review, role, answer):
    """Even the User who owns the order: answering the queue is a manager's job."""
    image = in_review()
    user = make_user(role)
    if role == "User":  # the order is theirs
        Order.objects.filter(pk=image.order_id).update(created_by=user)
    client.force_login(user)
    response = client.post(reverse(answer, args=[image.pk]), {"preset": ""})
    assert response.status_code == 403
    assert Image.objects.get(pk=image.pk).status == S.NEEDS_REVIEW


def test_the_page_lists_only_images_waiting_for_review(client, in_review):
    waiting = in_review()
    client.force_login(make_user("Manager"))
    page = client.get(reverse("review_queue")).content.decode()
    assert f'data-image="{waiting.pk}"' in page
    assert "No AI provider could" in page  # the reason, from the pipeline
    services.approve_image(waiting)
    page = client.get(reverse("review_queue")).content.decode()
    assert f'data-image="{waiting.pk}"' not in page
    assert 'data-testid="no-reviews"' in page


def test_approve_moves_the_image_on_and_settles_the_order(client, in_review):
    image = in_review()
    manager = make_user("Manager")
    client.force_login(manager)
    response = client.post(reverse("review_approve", args=[image.pk]), {"back": "?q=x"})
    assert response.status_code == 302
    assert response["Location"] == reverse("review_queue") + "?q=x"
    image.refresh_from_db()
    assert image.status == S.PROCESSED
    order = Order.objects.get(pk=image.order_id)
    assert order.status == Order.Status.PROCESSING
    assert order.ai_processed
    move = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.IMAGE_STATUS).last()
    assert move.actor == manager
    assert move.payload["to"] == S.PROCESSED


def test_back_never_leaves_the_site(client, in_review):
    image = in_review()
    client.force_login(make_user("Manager"))
    response = client.post(reverse("review_approve", args=[image.pk]), {"back": "//evil.example/"})
    assert response["Location"] == reverse("review_queue")


def test_redo_with_another_preset_runs_that_preset_on_that_image(
    client, in_review, django_capture_on_commit_callbacks
):
    image = in_review("colour-correct-only")
    client.force_login(make_user("Manager"))
    other = preset("analyze-only")
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("review_redo", args=[image.pk]), {"preset": other.slug})
    image.refresh_from_db()
    assert image.status == S.INGESTED
    assert image.ai_metadata[services.PRESET_OVERRIDE] == other.slug
    result = services.process_image(image.pk)  # what the queued task does
    assert result.status == S.PROCESSED
    image.refresh_from_db()
    assert set(image.ai_metadata["trail"]) == {"analyze"}  # analyze-only: no edit this time
    assert Image.objects.get(pk=image.pk).order.preset.slug == "colour-correct-only"


def test_redo_with_an_unknown_preset_changes_nothing(client, in_review):
    image = in_review()
    client.force_login(make_user("Manager"))
    response = client.post(
        reverse("review_redo", args=[image.pk]), {"preset": "no-such"}, follow=True
    )
    assert "does not exist" in response.content.decode()
    assert Image.objects.get(pk=image.pk).status == S.NEEDS_REVIEW


def _picture(fmt: str, size=(64, 48)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, (30, 140, 200)).save(out, format=fmt)
    return out.getvalue()


def test_a_hand_edited_png_becomes_the_processed_jpeg(client, in_review, media_root):
    image = in_review()
    manager = make_user("Manager")
    client.force_login(manager)
    upload = io.BytesIO(_picture("PNG"))
    upload.name = "retouched.png"
    response = client.post(reverse("review_upload", args=[image.pk]), {"file": upload})
    assert response.status_code == 302
    image.refresh_from_db()
    assert image.status == S.PROCESSED
    stored = Path(media_root) / image.processed.name
    data = stored.read_bytes()
    assert data[:3] == b"\xff\xd8\xff"
    with PILImage.open(io.BytesIO(data)) as picture:
        assert picture.size == (64, 48)
    assert image.ai_metadata["hand_edit"]["filename"] == "retouched.png"
    assert image.ai_metadata["hand_edit"]["by"] == manager.pk
    kinds = list(OrderEvent.objects.filter(order=image.order).values_list("kind", flat=True))
    assert services.HAND_EDITED in kinds


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>not a photo</html>", "not a photograph"),
        (_picture("GIF"), "GIF image, which is not accepted"),
        (_picture("JPEG")[:200], "could not be read"),
    ],
)
def test_a_bad_hand_edited_file_is_refused_and_nothing_is_stored(
    client, in_review, media_root, data, message
):
    image = in_review()
    before = {p for p in Path(media_root).rglob("*") if p.is_file()}
    client.force_login(make_user("Manager"))
    upload = io.BytesIO(data)
    upload.name = "edit.jpg"
    response = client.post(reverse("review_upload", args=[image.pk]), {"file": upload}, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    image.refresh_from_db()
    assert image.status == S.NEEDS_REVIEW
    assert not image.processed
    assert {p for p in Path(media_root).rglob("*") if p.is_file()} == before


def test_an_answer_to_an_image_no_longer_in_review_is_a_clear_message(client, in_review):
    image = in_review()
    client.force_login(make_user("Manager"))
    client.post(reverse("review_approve", args=[image.pk]))
    response = client.post(reverse("review_approve", args=[image.pk]), follow=True)
    assert "is not waiting for review" in response.content.decode()


def test_missing_file_and_unknown_image(client, in_review):
    image = in_review()
    client.force_login(make_user("Manager"))
    response = client.post(reverse("review_upload", args=[image.pk]), follow=True)
    assert "Choose the hand-edited file" in response.content.decode()
    assert client.post(reverse("review_approve", args=[10**12])).status_code == 404
