"""The order page: image grid without per-image queries, timeline, image files, status JSON."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile

from orders import selectors, services
from orders.models import Image, Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_client(client, users):
    client.force_login(users["User"])
    return client


def test_grid_shows_thumbnails_statuses_and_reasons(
    user_client, own_order, make_image, with_renditions
):
    ready = with_renditions(make_image(own_order, name="ready.jpg"), width=4000, height=3000)
    waiting = make_image(own_order, name="waiting.jpg")
    rejected = make_image(own_order, name="bad.jpg")
    Image.objects.filter(pk=rejected.pk).update(
        status=Image.Status.REJECTED, status_reason="Not an image: the bytes are text."
    )
    html = user_client.get(f"/orders/{own_order.order_ref}/").content.decode()

    card = re.search(rf'<li class="card" id="image-{ready.pk}".*?</li>', html, re.S).group(0)
    assert 'loading="lazy"' in card
    assert 'width="400" height="300"' in card  # the thumbnail box, known before loading
    assert f'src="/orders/{own_order.order_ref}/images/{ready.pk}/thumbnail?v=' in card
    assert f'href="/orders/{own_order.order_ref}/images/{ready.pk}/preview?v=' in card
    assert 'aria-label="Open preview of ready.jpg"' in card
    assert '<a class="thumb"' in card  # a link: Enter opens it, and it works without JS

    waiting_card = re.search(rf'id="image-{waiting.pk}".*?</li>', html, re.S).group(0)
    assert "data-pending" in waiting_card
    assert "Preparing…" in waiting_card
    assert "/thumbnail" not in waiting_card  # nothing to fetch yet
    bad_card = re.search(rf'id="image-{rejected.pk}".*?</li>', html, re.S).group(0)
    assert "Rejected" in bad_card
    assert "Not an image: the bytes are text." in bad_card
    # Prints are offered for a picture that was read, not for a file refused.
    assert "Prints and crops" in card
    assert "Prints and crops" not in bad_card
    assert '<dialog id="preview-dialog"' in html


def test_grid_of_many_images_costs_a_fixed_number_of_queries(
    user_client, own_order, make_image, django_assert_max_num_queries
):
    rows = [
        Image(
            order=own_order,
            original=f"originals/{own_order.pk}/{i}.jpg",
            thumbnail=f"renditions/{own_order.pk}/t{i}.jpg" if i % 2 else "",
            preview=f"renditions/{own_order.pk}/p{i}.jpg" if i % 2 else "",
            original_filename=f"IMG_{i:04d}.jpg",
            sha256=f"{i:064x}",
            width=6000,
            height=4000,
            status=Image.Status.INGESTED if i % 2 else Image.Status.UPLOADED,
        )
        for i in range(200)
    ]
    Image.objects.bulk_create(rows)
    services.refresh_image_counters(own_order.pk)
    for _ in range(20):
        services.record_event(own_order, "order.updated", {"fields": ["notes"]}, None)
    # 10 for the page, 1 for the bell's unread count, 1 for the prints ordered
    with django_assert_max_num_queries(12):
        response = user_client.get(f"/orders/{own_order.order_ref}/")
    assert response.status_code == 200
    assert len(response.context["images"]) == 200
    assert response.content.decode().count('class="card"') == 200
    with django_assert_max_num_queries(8):
        assert (
            user_client.get(f"/orders/{own_order.order_ref}/images.json?after=0").status_code == 200
        )


def test_grid_pages_by_id_beyond_the_page_size(user_client, own_order, make_image, monkeypatch):
    monkeypatch.setattr(selectors, "IMAGE_PAGE_SIZE", 3)
    images = [make_image(own_order, name=f"{i}.jpg") for i in range(5)]
    first = user_client.get(f"/orders/{own_order.order_ref}/")
    assert [i.pk for i in first.context["images"]] == [i.pk for i in images[:3]]
    assert first.context["grid_is_last_page"] is False
    assert f"?images_after={images[2].pk}" in first.content.decode()
    second = user_client.get(f"/orders/{own_order.order_ref}/?images_after={images[2].pk}")
    assert [i.pk for i in second.context["images"]] == [i.pk for i in images[3:]]
    assert second.context["grid_is_last_page"] is True


def test_timeline_is_listed_newest_first(user_client, users, own_order):
    services.change_order_status(own_order, Order.Status.PENDING, actor=users["User"])
    timeline = user_client.get(f"/orders/{own_order.order_ref}/").context["timeline"]
    assert [e.seq for e in timeline] == [2, 1]
    assert [e.text for e in timeline] == ["Status Draft → Pending", "Order created"]


def test_closed_order_has_no_drop_zone(user_client, own_order):
    Order.objects.filter(pk=own_order.pk).update(status=Order.Status.COMPLETED)
    html = user_client.get(f"/orders/{own_order.order_ref}/").content.decode()
    assert 'id="dropzone"' not in html
    assert "no more images can be added" in html


# --- image files --------------------------------------------------------------------------


def test_renditions_are_served_as_jpeg_through_the_access_rule(
    user_client, own_order, make_image, with_renditions
):
    image = with_renditions(make_image(own_order, name="IMG 1.jpg"))
    for kind in ("thumbnail", "preview"):
        response = user_client.get(f"/orders/{own_order.order_ref}/images/{image.pk}/{kind}")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
        assert "private" in response["Cache-Control"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert response["Content-Disposition"].startswith("inline")


def test_original_is_an_attachment_with_a_safe_type(user_client, own_order, make_image):
    image = make_image(own_order, name="holiday.jpg")
    response = user_client.get(f"/orders/{own_order.order_ref}/images/{image.pk}/original")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == 'attachment; filename="holiday.jpg"'
    assert b"".join(response.streaming_content) == image.original.open("rb").read()

    Image.objects.filter(pk=image.pk).update(mime_type="")  # not ingested yet: by name
    response = user_client.get(f"/orders/{own_order.order_ref}/images/{image.pk}/original")
    assert response["Content-Type"] == "image/jpeg"
    Image.objects.filter(pk=image.pk).update(mime_type="text/html")
    response = user_client.get(f"/orders/{own_order.order_ref}/images/{image.pk}/original")
    assert response["Content-Type"] == "application/octet-stream"  # never rendered as a page


def test_downloading_an_original_is_audited_and_viewing_previews_is_not(
    user_client, users, own_order, make_image
):
    from auditlog.models import LogEntry

    image = make_image(own_order, name="holiday.jpg")
    base = f"/orders/{own_order.order_ref}/images/{image.pk}"
    user_client.get(f"{base}/thumbnail")  # 404 before ingest, and never on record anyway
    response = user_client.get(f"{base}/original", REMOTE_ADDR="192.0.2.8")
    assert response.status_code == 200
    # (the test client's sign-in is on record too, against the account)
    (entry,) = LogEntry.objects.get_for_objects(Image.objects.all()).filter(
        action=LogEntry.Action.ACCESS
    )
    assert entry.additional_data == {"event": "downloaded_original"}
    expected = (str(image.pk), users["User"], "192.0.2.8")
    assert (entry.object_pk, entry.actor, entry.remote_addr) == expected


def test_missing_renditions_and_files_are_404(user_client, own_order, make_image):
    image = make_image(own_order)
    base = f"/orders/{own_order.order_ref}/images/{image.pk}"
    assert user_client.get(f"{base}/thumbnail").status_code == 404  # not ingested yet
    assert user_client.get(f"{base}/preview").status_code == 404
    image.original.storage.delete(image.original.name)
    assert user_client.get(f"{base}/original").status_code == 404
    rejected = Image.objects.create(
        order=own_order, original_filename="x.jpg", status=Image.Status.REJECTED
    )
    rejected_url = f"/orders/{own_order.order_ref}/images/{rejected.pk}/original"
    assert user_client.get(rejected_url).status_code == 404


def test_image_of_another_order_under_this_reference_is_404(
    user_client, users, own_order, make_order, make_image
):
    second = make_order(users["User"])
    image = make_image(second)
    url = f"/orders/{own_order.order_ref}/images/{image.pk}/original"
    assert user_client.get(url).status_code == 404


def test_media_is_not_served_directly(user_client, own_order, make_image):
    image = make_image(own_order)
    assert user_client.get(f"/media/{image.original.name}").status_code == 404


# --- status JSON for polling ------------------------------------------------------------------


def test_images_json_reports_new_images_and_asked_ones(
    user_client, own_order, make_image, with_renditions
):
    first = make_image(own_order, name="1.jpg")
    second = make_image(own_order, name="2.jpg")
    url = f"/orders/{own_order.order_ref}/images.json"

    body = user_client.get(url, {"after": first.pk}).json()
    assert [i["id"] for i in body["images"]] == [second.pk]
    assert body["order"]["total"] == 0  # counters are the services' (none ran here)

    with_renditions(first)
    services.change_image_status(first, Image.Status.INGESTED)
    body = user_client.get(url, {"after": second.pk, "ids": f"{first.pk},{second.pk}"}).json()
    by_id = {i["id"]: i for i in body["images"]}
    assert by_id[first.pk]["status"] == "ingested"
    assert by_id[first.pk]["pending"] is True  # AI processing still to come
    services.change_image_status(first, Image.Status.PROCESSED)
    body = user_client.get(url, {"after": second.pk, "ids": f"{first.pk},{second.pk}"}).json()
    by_id = {i["id"]: i for i in body["images"]}
    assert set(by_id) == {first.pk, second.pk}
    assert by_id[first.pk]["status"] == "processed"
    assert by_id[first.pk]["pending"] is False
    assert by_id[first.pk]["thumbnail_url"].startswith(
        f"/orders/{own_order.order_ref}/images/{first.pk}/thumbnail?v="
    )
    assert by_id[second.pk]["pending"] is True
    assert by_id[second.pk]["thumbnail_url"] is None
    assert (
        by_id[first.pk]["prints_url"] == f"/orders/{own_order.order_ref}/images/{first.pk}/prints/"
    )
    assert by_id[second.pk]["prints_url"] is None  # not read yet: nothing to crop
    assert body["order"]["ingested"] == 1


@pytest.mark.parametrize("ids", ["a,b", "1,,x", "-1", "1" * 30])
def test_images_json_bad_ids_are_400(user_client, own_order, ids):
    response = user_client.get(f"/orders/{own_order.order_ref}/images.json", {"ids": ids})
    assert response.status_code == 400
    assert response.json()["error"]


def test_rendition_version_changes_when_remade(user_client, own_order, make_image):
    image = make_image(own_order)
    image.thumbnail.save("t.jpg", ContentFile(b"\xff\xd8one"), save=True)
    url = f"/orders/{own_order.order_ref}/images.json"
    before = user_client.get(url, {"ids": image.pk}).json()["images"][0]["thumbnail_url"]
    image.thumbnail.save("t.jpg", ContentFile(b"\xff\xd8two"), save=True)
    after = user_client.get(url, {"ids": image.pk}).json()["images"][0]["thumbnail_url"]
    assert before != after


def test_timeline_names_the_image_files(user_client, own_order, make_image):
    image = make_image(own_order, name="IMG_0042.jpg")
    services.change_image_status(image, Image.Status.REJECTED, reason="Blurred")
    page = user_client.get(f"/orders/{own_order.order_ref}/")
    assert page.context["timeline"][0].text == "IMG_0042.jpg rejected: Blurred"
    api = user_client.get(f"/api/v1/orders/{own_order.order_ref}/timeline?after=1").json()
    assert api["events"][0]["text"] == "IMG_0042.jpg rejected: Blurred"
