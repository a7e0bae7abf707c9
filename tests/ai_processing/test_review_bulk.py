"""Approving and rejecting many images at once: each through its service, one summary sentence.

The form posts and comes back with a message; the page's script asks for JSON. Every role,
and a mix of images that may be answered, may not, and vanished meanwhile.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from ai_processing import services
from orders.models import Image, Order
from tests.ai_processing.review import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    in_review_fixture,
    ingested_order_fixture,
    manager_fixture,
    many_in_review_fixture,
    media_root_fixture,
    near_duplicate_fixture,
)
from tests.conftest import make_user
from utilities import access

S = Image.Status
pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def _post(client, ids, action="approve", *, follow=False, **fields):
    data = {"ids": [str(i) for i in ids], "action": action, **fields}
    return client.post(reverse("review_bulk"), data, follow=follow)


def _post_json(client, ids, action="approve", **fields):
    data = {"ids": [str(i) for i in ids], "action": action, **fields}
    return client.post(reverse("review_bulk"), data, **JSON)


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def test_bulk_approve_answers_each_and_says_so(client, many_in_review):
    images = many_in_review(3)
    client.force_login(make_user("Manager"))
    response = _post(client, [i.pk for i in images], back="?reason=no_provider")
    assert response.status_code == 302
    assert response["Location"] == reverse("review_queue") + "?reason=no_provider"
    page = client.get(response["Location"])
    assert _messages(page) == [("success", "3 approved.")]
    assert set(Image.objects.filter(pk__in=[i.pk for i in images]).values_list("status")) == {
        (S.PROCESSED,)
    }
    order = Order.objects.get(pk=images[0].order_id)
    assert order.status == Order.Status.PROCESSING
    assert order.ai_processed


def test_bulk_reject_with_a_reason_deletes_the_files(
    client, many_in_review, media_root, django_capture_on_commit_callbacks
):
    images = many_in_review(2)
    stored = [Path(media_root) / i.original.name for i in images]
    client.force_login(make_user("Admin"))
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_json(client, [i.pk for i in images], "reject", reason="test shots")
    body = response.json()
    assert body["summary"] == "2 rejected."
    assert body["level"] == "success"
    assert body["done"] == [i.pk for i in images]
    assert body["total"] == 0
    for image in images:
        image.refresh_from_db()
        assert image.status == S.REJECTED
        assert image.status_reason == "Rejected by a reviewer: test shots"
    assert not any(path.exists() for path in stored)


def test_a_mix_of_allowed_forbidden_vanished_and_bad_ids(client, many_in_review, monkeypatch):
    """Each id gets its own answer; nothing that may not be answered is, nothing is a 500.

    The role rule lets only Managers and Admins review, on every order. To have ids the
    reviewer may and may not answer in one request, the rule's own-scope actions are widened
    to include review: a User then reviews their own orders only (per order, like editing).
    """
    monkeypatch.setattr(
        access, "OWN_SCOPE_ACTIONS", access.OWN_SCOPE_ACTIONS | {access.Action.REVIEW}
    )
    mine = many_in_review(3)
    theirs = many_in_review(1)[0]
    user = make_user("User")
    Order.objects.filter(pk=mine[0].order_id).update(created_by=user)
    services.approve_image(mine[2])  # answered meanwhile by someone else
    client.force_login(user)
    ids = [mine[0].pk, theirs.pk, mine[2].pk, 10**12, mine[1].pk, "abc", mine[0].pk]
    body = _post_json(client, ids).json()
    assert body["done"] == [mine[0].pk, mine[1].pk]
    assert body["gone"] == [mine[2].pk, 10**12]
    assert body["kept"] == [
        {"id": theirs.pk, "message": f"Image {theirs.pk}: you may not review this order."}
    ]
    assert body["level"] == "warning"
    assert body["summary"] == (
        "2 approved, 4 could not be: "
        f"Image {theirs.pk}: you may not review this order. "
        "IMG_0002.jpg is no longer waiting for review (it is processed now). "
        f"Image {10**12} no longer exists. "
        "1 of the selected values was not an image."
    )
    assert body["total"] == 0  # of the images this user may review
    theirs.refresh_from_db()
    assert theirs.status == S.NEEDS_REVIEW  # the other order's image is untouched
    assert theirs.original_filename not in body["summary"]


def test_a_stale_bulk_post_is_a_sentence(client, many_in_review):
    images = many_in_review(2)
    client.force_login(make_user("Manager"))
    _post(client, [i.pk for i in images])
    for action in ("approve", "reject"):
        response = _post_json(client, [i.pk for i in images], action)
        assert response.status_code == 200
        body = response.json()
        assert body["done"] == []
        assert body["gone"] == [i.pk for i in images]
        assert body["level"] == "warning"
        verb = {"approve": "approved", "reject": "rejected"}[action]
        assert body["summary"].startswith(f"0 {verb}, 2 could not be: IMG_0000.jpg is no")
    response = _post(client, [i.pk for i in images], follow=True)
    assert response.status_code == 200
    assert _messages(response)[-1][0] == "warning"


def test_the_answer_counts_what_is_left(client, in_review, near_duplicate):
    waiting = in_review()
    copy, _ = near_duplicate()
    client.force_login(make_user("Manager"))
    body = _post_json(client, [copy.pk], "reject", back="?reason=near_duplicate").json()
    assert body["total"] == 1
    assert body["reasons"]["near_duplicate"] == 0
    assert body["reasons"]["no_provider"] == 1
    # Per order too (the filter form's list), under the other filters (near-duplicates):
    # none left in any order; without that filter, the waiting image's order.
    assert body["orders"] == {}
    other = _post_json(client, [copy.pk], "reject", back="?").json()
    assert other["orders"] == {waiting.order.order_ref: 1}
    assert Image.objects.get(pk=waiting.pk).status == S.NEEDS_REVIEW


@pytest.mark.parametrize("role", ["User", "Viewer", None])
def test_only_reviewers_may_answer_in_bulk(client, in_review, role):
    image = in_review()
    user = make_user(role)
    if role == "User":  # even on their own order
        Order.objects.filter(pk=image.order_id).update(created_by=user)
    client.force_login(user)
    for action in ("approve", "reject"):
        assert _post(client, [image.pk], action).status_code == 403
        response = _post_json(client, [image.pk], action)
        assert response.status_code == 403
        assert response.json()["error"]["message"] == (
            "Only managers and admins answer the review queue."
        )
    assert Image.objects.get(pk=image.pk).status == S.NEEDS_REVIEW


@pytest.mark.parametrize("role", ["Admin", "Manager"])
def test_reviewers_may_answer_in_bulk(client, many_in_review, role):
    first, second = many_in_review(2)
    client.force_login(make_user(role))
    assert _post_json(client, [first.pk], "approve").json()["done"] == [first.pk]
    assert _post_json(client, [second.pk], "reject").json()["done"] == [second.pk]


def test_signed_out(client, in_review):
    image = in_review()
    response = _post(client, [image.pk])
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    response = _post_json(client, [image.pk])
    assert response.status_code == 403
    assert "Sign in again" in response.json()["error"]["message"]
    assert client.get(reverse("review_bulk")).status_code in (302, 405)


@pytest.mark.parametrize(
    ("ids", "action", "message"),
    [
        ([], "approve", "Select at least one image first."),
        (["1"], "delete", "Choose whether to approve or to reject the selected images."),
        (["1"], "", "Choose whether to approve or to reject the selected images."),
        ([str(n) for n in range(1, 5)], "approve", "Choose at most 3 images at a time."),
    ],
)
def test_requests_that_cannot_be_answered(client, in_review, monkeypatch, ids, action, message):
    monkeypatch.setattr(services, "MAX_BULK", 3)
    image = in_review()
    client.force_login(make_user("Manager"))
    response = _post_json(client, ids, action)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message
    response = _post(client, ids, action, follow=True)
    assert response.status_code == 200
    assert _messages(response) == [("error", message)]
    assert Image.objects.get(pk=image.pk).status == S.NEEDS_REVIEW


def test_only_values_that_are_not_ids(client, in_review):
    in_review()
    client.force_login(make_user("Manager"))
    body = _post_json(client, ["-1", "1e3", "9" * 30], "approve").json()
    assert body["done"] == []
    assert body["level"] == "error"
    assert body["summary"] == (
        "0 approved, 1 could not be: 3 of the selected values were not an image."
    )
