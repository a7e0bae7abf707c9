"""The approval page and its answers per role (Django's test client; the browser test drives
the slider and the 100 % view)."""

from __future__ import annotations

import pytest

from orders.models import Image, Order
from tests.ai_processing.approval import delivered, held_order
from tests.pmr.conftest import jpeg

pytestmark = pytest.mark.django_db
S = Order.Status


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def page(client, user, order):
    client.force_login(user)
    return client.get(f"/orders/{order.order_ref}/approval/")


@pytest.mark.parametrize(
    ("who", "flag", "status", "buttons"),
    [
        ("Admin", False, 200, True),
        ("Manager", False, 200, True),
        ("User", True, 200, True),
        ("User", False, 200, False),
        ("Viewer", True, 200, False),
        ("other", True, 404, False),
    ],
)
def test_who_sees_the_page_and_its_buttons(client, users, make_order, who, flag, status, buttons):
    order = held_order(make_order, users["User"], 2, owner_may_approve=flag)
    response = page(client, users[who], order)
    assert response.status_code == status
    if status != 200:
        return
    html = response.content.decode()
    assert html.count('data-testid="approval-item"') == 2
    assert html.count('data-testid="compare-slider"') == 2
    assert ('data-testid="approve-all"' in html) is buttons
    assert ('data-testid="approve-image"' in html) is buttons
    assert "wait for approval" in html


def test_answers_from_someone_who_may_not_approve_change_nothing(client, users, make_order):
    order = held_order(make_order, users["User"], 1)
    image = order.images.get()
    for who in ("User", "Viewer"):
        client.force_login(users[who])
        response = client.post(f"/orders/{order.order_ref}/approval/approve", follow=True)
        assert "You may not approve order" in response.content.decode()
        response = client.post(
            f"/orders/{order.order_ref}/approval/images/{image.pk}/reject", follow=True
        )
        assert "You may not approve order" in response.content.decode()
    order.refresh_from_db()
    assert order.status == S.AWAITING_APPROVAL
    client.force_login(users["other"])
    assert client.post(f"/orders/{order.order_ref}/approval/approve").status_code == 404


def test_turn_down_then_upload_a_hand_edit_from_the_page(client, users, make_order):
    owner = users["User"]
    order = held_order(make_order, owner, 2, owner_may_approve=True)
    first, second = order.images.order_by("pk")
    client.force_login(owner)
    base = f"/orders/{order.order_ref}/approval"
    response = client.post(f"{base}/images/{first.pk}/reject", {"reason": "crooked"}, follow=True)
    html = response.content.decode()
    assert "turned down" in html
    assert 'data-testid="upload-image"' in html
    first.refresh_from_db()
    assert first.review_reason == Image.ReviewReason.APPROVAL

    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("fixed.jpg", jpeg(3, (64, 48)), content_type="image/jpeg")
    response = client.post(f"{base}/images/{first.pk}/upload", {"file": upload}, follow=True)
    assert "replaced by the hand-edited file" in response.content.decode()
    order.refresh_from_db()
    assert order.status == S.AWAITING_APPROVAL
    edited = client.get(f"{base}/images/{first.pk}/edited")
    assert edited.status_code == 200
    assert edited["Content-Type"] == "image/jpeg"
    assert "sandbox" in edited["Content-Security-Policy"]
    assert b"".join(edited.streaming_content)[:2] == b"\xff\xd8"

    response = client.post(f"{base}/approve", follow=True)
    assert "Approved; the order goes on to the PMR." in response.content.decode()
    order.refresh_from_db()
    assert order.ai_processed
    assert delivered(order) == (2, 1)
    # The files of an order the user cannot see stay hidden.
    client.force_login(users["other"])
    assert client.get(f"{base}/images/{second.pk}/edited").status_code == 404


def test_the_order_page_links_to_the_approval_page(client, users, make_order):
    order = held_order(make_order, users["User"], 1)
    client.force_login(users["Manager"])
    html = client.get(f"/orders/{order.order_ref}/").content.decode()
    assert 'data-testid="approval-link"' in html
    assert "Approve the results" in html
    assert "Awaiting approval" in html
    assert "Nothing sent yet: the images go to the PMR once they are approved." in html


def test_a_large_order_is_approved_image_by_image_page_by_page(
    client, users, make_order, monkeypatch
):
    """Issue 16: an order with more images than a page is paginated: every image can be
    answered on its own page (the answer comes back to that page), and the whole-order
    button counts and answers every page."""
    from ai_processing import approval_views

    monkeypatch.setattr(approval_views, "PAGE_IMAGES", 2)
    order = held_order(make_order, users["User"], 5)
    client.force_login(users["Manager"])
    url = f"/orders/{order.order_ref}/approval/"
    first = client.get(url).content.decode()
    assert first.count('data-testid="approval-item"') == 2
    assert "Images 1–2 of 5" in first
    assert 'data-testid="approve-all">Approve all 5<' in first
    seen = set()
    for number in (1, 2, 3):
        html = client.get(f"{url}?page={number}").content.decode()
        ids = {
            int(chunk.split('"', 1)[0])
            for chunk in html.split('data-testid="approval-item" data-image="')[1:]
        }
        seen |= ids
        for image_id in sorted(ids):
            action = f"{url}images/{image_id}/approve" + (f"?page={number}" if number > 1 else "")
            assert f'action="{action}"' in html
            response = client.post(action)
            assert response.status_code == 302
            assert response["Location"] == url + (f"?page={number}" if number > 1 else "")
    assert seen == set(order.images.values_list("pk", flat=True))
    assert "Images 5–5 of 5" in client.get(f"{url}?page=3").content.decode()
    assert client.get(f"{url}?page=x").status_code == 200  # a bad page number: the first
    order.refresh_from_db()
    assert not order.images.filter(approved_at__isnull=True).exists()
    assert order.status == S.PROCESSING  # every image approved: on to the PMR
