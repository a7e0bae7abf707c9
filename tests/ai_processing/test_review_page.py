"""The review queue page: who may see and answer it, and each of the three answers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image as PILImage

from ai_processing import services
from orders.models import Image, Order, OrderEvent
from tests.ai_processing.pipeline import preset
from tests.ai_processing.review import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    give_up,
    in_review_fixture,
    ingested_order_fixture,
    manager_fixture,
    many_in_review_fixture,
    media_root_fixture,
    near_duplicate_fixture,
)
from tests.conftest import make_user

S = Image.Status
pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize(
    "answer", ["review_approve", "review_reject", "review_redo", "review_upload"]
)
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
    # A form for an image deleted since the page was loaded: a sentence, for every answer.
    for answer in ("review_approve", "review_reject", "review_redo", "review_upload"):
        response = client.post(reverse(answer, args=[10**12]), {"back": "?q=a"}, follow=True)
        assert response.redirect_chain[-1][0] == reverse("review_queue") + "?q=a"
        assert "That image is no longer in the review queue" in response.content.decode()


# --- near-duplicates side by side -------------------------------------------------------


def _item(page: str, image_id: int) -> str:
    """The HTML of one item of the queue page."""
    start = page.index(f'data-image="{image_id}"')
    end = page.find('data-testid="review-item"', start)
    return page[start : end if end != -1 else len(page)]


def test_a_near_duplicate_is_shown_beside_the_image_it_matches(client, near_duplicate):
    copy, original = near_duplicate()
    assert copy.review_reason == Image.ReviewReason.NEAR_DUPLICATE
    client.force_login(make_user("Manager"))
    item = _item(client.get(reverse("review_queue")).content.decode(), copy.pk)
    assert 'data-testid="compare"' in item
    this, matched = item.split('data-testid="matched-image"')
    # This image: its thumbnail, name, order, event, size; no EXIF left after re-encoding.
    assert reverse("image_thumbnail", args=[copy.order.order_ref, copy.pk]) in this
    assert "copy_of_0420.jpg" in this
    assert copy.order.order_ref in this
    assert copy.order.event.event_id in this
    assert f"{copy.width} \u00d7 {copy.height} px" in this
    assert "Capture time unknown" in this
    # The image it matches, in the other order of the same event, with its capture time.
    assert reverse("image_thumbnail", args=[original.order.order_ref, original.pk]) in matched
    assert reverse("image_preview", args=[original.order.order_ref, original.pk]) in matched
    assert "IMG_0420.jpg" in matched
    assert original.order.order_ref in matched
    assert f"{original.width} \u00d7 {original.height} px" in matched
    assert "Taken <time" in matched
    assert "15 Jun 2024, 14:03" in matched
    assert "Near-duplicate" in item
    assert "Discard duplicate" in item
    assert "of 64 points" in item
    # Both thumbnails are there to be seen by this reviewer.
    for image in (copy, original):
        url = reverse("image_thumbnail", args=[image.order.order_ref, image.pk])
        assert client.get(url).status_code == 200


def _reviewer_who_sees_only_own_orders():
    """Review scope without the view-all scope: a custom set of permissions, no role."""
    from django.contrib.auth.models import Permission

    user = make_user(None)
    codenames = ["view_order", "process_order", "manage_all_orders"]
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="orders", codename__in=codenames)
    )
    return type(user).objects.get(pk=user.pk)


def test_the_matched_image_is_not_shown_to_a_reviewer_who_may_not_view_its_order(
    client, near_duplicate
):
    copy, original = near_duplicate()
    reviewer = _reviewer_who_sees_only_own_orders()
    Order.objects.filter(pk=copy.order_id).update(created_by=reviewer)
    client.force_login(reviewer)
    item = _item(client.get(reverse("review_queue")).content.decode(), copy.pk)
    assert "It matches an image of an order you cannot see." in item
    assert "copy_of_0420.jpg" in item
    # Nothing of the other order: not its image, not its reference (ingest's sentence names
    # both, so the page says it in other words).
    assert "IMG_0420.jpg" not in item
    assert original.order.order_ref not in item
    assert "Looks like an image of an order you cannot see." in item


def test_a_match_that_was_deleted_is_said_to_be_gone(client, near_duplicate):
    copy, original = near_duplicate()
    Image.objects.filter(pk=original.pk).delete()
    client.force_login(make_user("Admin"))
    item = _item(client.get(reverse("review_queue")).content.decode(), copy.pk)
    assert "The image it matched is no longer stored." in item
    assert "copy_of_0420.jpg" in item


# --- filters by reason and order ------------------------------------------------------------


def _counts(page: str) -> dict[str, int]:
    import re

    return {code: int(n) for code, n in re.findall(r'data-reason-count="([a-z_]*)">(\d+)<', page)}


def _listed(page: str) -> set[int]:
    import re

    return {int(pk) for pk in re.findall(r'data-testid="review-item" data-image="(\d+)"', page)}


@pytest.fixture
def mixed_queue(near_duplicate, ingested_order, settings):
    """One image of each reason the product gives today: no provider, near-duplicate, other."""
    first, second = ingested_order(None, 2).images.order_by("pk")
    settings.AI_DEFAULT_PRESET = "no-such-preset"  # no preset at all: "other"
    other = services.process_image(first.pk)
    assert other.status == S.NEEDS_REVIEW
    settings.AI_DEFAULT_PRESET = "analyze-only"
    give_up([second.pk], settings)
    copy, _ = near_duplicate()
    return {
        "no_provider": Image.objects.get(pk=second.pk),
        "near_duplicate": copy,
        "other": Image.objects.get(pk=other.pk),
    }


def test_each_reason_is_counted_and_can_be_chosen(client, mixed_queue):
    images = mixed_queue
    assert {code: image.review_reason for code, image in images.items()} == {
        code: code for code in images
    }
    client.force_login(make_user("Manager"))
    page = client.get(reverse("review_queue")).content.decode()
    assert _counts(page) == {
        "": 3,
        "near_duplicate": 1,
        "no_provider": 1,
        "quality": 0,
        "hand_edit": 0,
        "print_size": 0,
        "approval": 0,
        "other": 1,
    }
    assert _listed(page) == {image.pk for image in images.values()}
    for code, image in images.items():
        page = client.get(reverse("review_queue"), {"reason": code}).content.decode()
        assert _listed(page) == {image.pk}, code
        assert 'aria-current="true"' in page
    page = client.get(reverse("review_queue"), {"reason": "quality"}).content.decode()
    assert 'data-testid="no-reviews"' in page
    assert "among these" in page
    # An unknown reason is no filter at all.
    page = client.get(reverse("review_queue"), {"reason": "<script>"}).content.decode()
    assert len(_listed(page)) == 3


def test_filter_by_order_with_counts_and_the_search_still_works(client, mixed_queue):
    copy = mixed_queue["near_duplicate"]
    client.force_login(make_user("Manager"))
    ref = copy.order.order_ref
    page = client.get(reverse("review_queue"), {"order": ref.lower()}).content.decode()
    assert _listed(page) == {copy.pk}
    assert f'<option value="{ref}" selected>{ref} (1)</option>' in page
    # Counts per reason follow the order filter.
    assert _counts(page)["near_duplicate"] == 1
    assert _counts(page)["no_provider"] == 0
    # The search (order reference, Event ID or file name) is still there.
    page = client.get(reverse("review_queue"), {"q": "copy_of"}).content.decode()
    assert _listed(page) == {copy.pk}
    # An order with nothing waiting stays chosen, with 0.
    page = client.get(reverse("review_queue"), {"order": "ORD-1999-000001"}).content.decode()
    assert "ORD-1999-000001 (0)</option>" in page
    assert 'data-testid="no-reviews"' in page


def test_pages_keep_the_filters(client, many_in_review, monkeypatch):
    from ai_processing import selectors

    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    images = many_in_review(3)
    client.force_login(make_user("Manager"))
    query = {"q": "IMG_", "reason": "no_provider", "order": images[0].order.order_ref}
    first = client.get(reverse("review_queue"), query)
    page = first.content.decode()
    assert _listed(page) == {images[0].pk, images[1].pk}
    more = first.context["next_query"]
    for key, value in query.items():
        assert f"{key}={value}" in more
    assert f"after={images[1].pk}" in more
    assert f'href="{more.replace("&", "&amp;")}"' in page
    second = client.get(reverse("review_queue") + more)
    assert _listed(second.content.decode()) == {images[2].pk}
    assert second.context["next_query"] == ""
    # The answers come back to the page they were given on, filters and all.
    assert f'name="back" value="{more.replace("&", "&amp;")}"' in second.content.decode()


def test_the_migration_gives_waiting_images_their_reason(mixed_queue):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("orders.migrations.0004_image_review_reason")
    Image.objects.update(review_reason="")
    migration.categorise_waiting_images(apps, None)
    for code, image in mixed_queue.items():
        image.refresh_from_db()
        assert image.review_reason == code


def test_the_page_loads_its_script_as_a_module(client, in_review):
    in_review()
    client.force_login(make_user("Manager"))
    page = client.get(reverse("review_queue")).content.decode()
    assert '<script type="module" src="/static/js/review.js">' in page
    assert 'role="status" aria-live="polite"' in page
    assert 'data-testid="select"' in page
    assert 'form="bulk-form"' in page


def test_the_page_costs_the_same_queries_for_one_item_or_many(
    client, many_in_review, near_duplicate
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    many_in_review(1)
    client.force_login(make_user("Manager"))
    client.get(reverse("review_queue"))  # warm up the session and permission caches
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("review_queue"))
    many_in_review(3)
    near_duplicate()
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("review_queue")).content.decode()
    assert len(_listed(page)) == 5
    assert len(many.captured_queries) == len(one.captured_queries)
