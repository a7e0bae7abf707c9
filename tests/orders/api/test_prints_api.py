"""The prints API per role: sizes, an order's and an image's lines, crops by hand."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile

from orders import intake
from orders.models import Image, OrderPrint, PrintCrop
from tests.orders.api.conftest import API, assert_error
from tests.orders.intake import photos

pytestmark = pytest.mark.django_db

#: role → may it edit the prints of an order it did not create (a Manager's)?
EDITS_ANY = {"Admin": True, "Manager": True, "User": False, "Viewer": False}


def _image(order, size=(1800, 1200)) -> Image:
    data = photos.jpeg(photos.photo("coffee.png").resize(size))
    image = intake.add_image(order, source=io.BytesIO(data), filename="IMG_1.jpg", actor=None)
    return intake.ingest_image(image.pk)


def test_sizes_are_listed_for_every_role(client_as):
    for role in ("Admin", "Manager", "User", "Viewer"):
        body = client_as(role).get(f"{API}/print-sizes").json()
        codes = [s["code"] for s in body]
        assert codes[:5] == ["digital", "4x6", "5x7", "8x10", "11x14"]
        assert body[1]["physical"] is True
        assert body[0]["physical"] is False
    assert_error(client_as("anonymous").get(f"{API}/print-sizes"), 401)


@pytest.mark.parametrize("role", ["Admin", "Manager", "User", "Viewer"])
def test_order_lines_per_role(client_as, users, make_order, role):
    managers = make_order(users["Manager"])
    client = client_as(role)
    url = f"{API}/orders/{managers.order_ref}/prints"
    body = {"lines": [{"size": "4x6", "quantity": 2}, {"size": "digital", "quantity": 1}]}
    read = client.get(url)
    if role == "User":  # not theirs: not even visible
        assert_error(read, 404)
    else:
        assert read.status_code == 200
        assert read.json()["lines"] == []
    answer = client.put(url, body, format="json")
    if EDITS_ANY[role]:
        assert answer.status_code == 200, answer.content
        assert [(x["size"], x["quantity"]) for x in answer.json()["lines"]] == [
            ("digital", 1),
            ("4x6", 2),
        ]
    else:
        assert_error(answer, 404 if role == "User" else 403)
        assert not OrderPrint.objects.filter(order=managers).exists()
    if role == "User":  # their own order: yes
        own = make_order(users["User"])
        ok = client.put(f"{API}/orders/{own.order_ref}/prints", body, format="json")
        assert ok.status_code == 200


def test_bad_lines_are_400_and_closed_orders_409(client_as, users, make_order):
    order = make_order(users["Manager"])
    client = client_as("Manager")
    url = f"{API}/orders/{order.order_ref}/prints"
    for bad in (
        {"lines": [{"size": "9x99", "quantity": 1}]},
        {"lines": [{"size": "4x6", "quantity": 0}]},
        {"lines": [{"size": 4, "quantity": 1}]},
        {"lines": "4x6"},
        {},
    ):
        assert_error(client.put(url, bad, format="json"), 400)
    order.status = "cancelled"
    order.save(update_fields=["status"])
    answer = client.put(url, {"lines": []}, format="json")
    assert_error(answer, 409, "conflict")


@pytest.mark.parametrize("role", ["Admin", "Manager", "User", "Viewer"])
def test_image_lines_and_crops_per_role(client_as, users, make_order, media_root, role):
    # The User's own order: every role sees it (Viewer: read only).
    order = make_order(users["User"])
    OrderPrint.objects.create(order=order, size_id=_size("8x10"), quantity=1)
    image = _image(order)
    client = client_as(role)
    url = f"{API}/orders/{order.order_ref}/images/{image.pk}/prints"
    read = client.get(url)
    assert read.status_code == 200
    body = read.json()
    assert body["inherited"] is True
    assert [c["size"] for c in body["crops"]] == ["8x10"]
    crop = body["crops"][0]
    assert crop["pixels"] == [1500, 1200]
    assert crop["dpi"] == 150
    assert crop["short"] is True
    put = client.put(url, {"lines": [{"size": "4x6", "quantity": 3}]}, format="json")
    crop_url = f"{API}/orders/{order.order_ref}/images/{image.pk}/crops/4x6"
    box = {"x": 0.1, "y": 0.1, "width": 0.5, "height": 0.5}
    if role == "Viewer":
        assert_error(put, 403)
        assert_error(client.put(crop_url, box, format="json"), 403)
        return
    assert put.status_code == 200, put.content
    assert put.json()["inherited"] is False
    assert [c["size"] for c in put.json()["crops"]] == ["4x6"]
    moved = client.put(crop_url, box, format="json")
    assert moved.status_code == 200, moved.content
    assert moved.json()["basis"] == "manual"
    assert moved.json()["pixels"][0] == 900  # half the width of 1800
    assert PrintCrop.objects.get(image=image, size__code="4x6").basis == "manual"
    back = client.delete(crop_url)
    assert back.json()["basis"] == "centre"
    assert_error(
        client.put(
            f"{API}/orders/{order.order_ref}/images/{image.pk}/crops/8x10", box, format="json"
        ),
        409,
    )
    assert_error(
        client.put(crop_url, {"x": "a", "y": 0, "width": 2, "height": 0}, format="json"), 400
    )
    inherit = client.delete(url)
    assert inherit.json()["inherited"] is True


def test_a_user_cannot_reach_another_users_image(client_as, users, make_order, media_root):
    order = make_order(users["other"])
    image = _image(order, (600, 400))
    url = f"{API}/orders/{order.order_ref}/images/{image.pk}/prints"
    assert_error(client_as("User").get(url), 404)
    assert_error(client_as("User").put(url, {"lines": []}, format="json"), 404)


def test_crops_follow_the_processed_file(client_as, users, make_order, media_root):
    order = make_order(users["Manager"])
    OrderPrint.objects.create(order=order, size_id=_size("4x6"), quantity=1)
    image = _image(order)
    image.processed.save(
        "p.jpg",
        ContentFile(photos.jpeg(photos.photo("coffee.png").resize((3600, 2400)))),
        save=True,
    )
    body = (
        client_as("Manager").get(f"{API}/orders/{order.order_ref}/images/{image.pk}/prints").json()
    )
    assert body["crops"][0]["pixels"] == [3600, 2400]
    assert body["crops"][0]["dpi"] == 600


def _size(code: str) -> int:
    from orders.models import PrintSize

    return PrintSize.objects.get(code=code).pk
