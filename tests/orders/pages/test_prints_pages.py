"""Prints on the pages: the new-order and edit forms take quantities per size, the order page
shows them, the image's prints page edits its own lines (per role)."""

from __future__ import annotations

import io

import pytest

from orders import intake, print_services
from orders.models import ImagePrint, Order, OrderEvent, OrderPrint
from tests.orders.intake import photos

pytestmark = pytest.mark.django_db


def test_new_order_with_prints(client, users, event):
    client.force_login(users["User"])
    form = client.get("/orders/new/").content.decode()
    for code in ("4x6", "5x7", "8x10", "11x14", "digital"):
        assert f'name="prints_{code}"' in form
    response = client.post(
        "/orders/new/",
        {
            "event_id": event.event_id,
            "customer_name": "Jane",
            "prints_4x6": "2",
            "prints_8x10": "1",
            "prints_5x7": "",
        },
    )
    assert response.status_code == 302
    order = Order.objects.get()
    assert {(p.size.code, p.quantity) for p in OrderPrint.objects.filter(order=order)} == {
        ("4x6", 2),
        ("8x10", 1),
    }
    page = client.get(response["Location"]).content.decode()
    assert "2 × 4×6, 1 × 8×10" in page


def test_bad_quantity_is_a_form_error(client, users, event):
    client.force_login(users["User"])
    response = client.post(
        "/orders/new/",
        {"event_id": event.event_id, "customer_name": "Jane", "prints_4x6": "-1"},
    )
    assert response.status_code == 400
    assert not Order.objects.exists()


def test_edit_changes_the_prints_and_says_so(client, users, make_order):
    order = make_order(users["User"])
    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 1}], actor=users["User"])
    client.force_login(users["User"])
    page = client.get(f"/orders/{order.order_ref}/edit/").content.decode()
    assert 'name="prints_4x6"' in page
    assert 'value="1"' in page
    response = client.post(
        f"/orders/{order.order_ref}/edit/",
        {
            "customer_name": order.customer_name,
            "order_date": order.order_date.strftime("%Y-%m-%dT%H:%M"),
            "prints_5x7": "3",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [(p.size.code, p.quantity) for p in OrderPrint.objects.filter(order=order)] == [
        ("5x7", 3)
    ]
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.ORDER_PRINTS).count() == 2


def test_edit_page_leaves_prints_out_once_handed_to_delivery(client, users, make_order):
    order = make_order(users["Manager"])
    Order.objects.filter(pk=order.pk).update(ai_processed=True, status="processing")
    client.force_login(users["Manager"])
    page = client.get(f"/orders/{order.order_ref}/edit/").content.decode()
    assert 'name="prints_4x6"' not in page
    assert "its prints can no longer change" in page


@pytest.mark.parametrize(
    ("role", "sees", "edits"),
    [
        ("Admin", True, True),
        ("Manager", True, True),
        ("User", True, True),
        ("Viewer", True, False),
        ("other", False, False),
    ],
)
def test_image_prints_page_per_role(client, users, make_order, media_root, role, sees, edits):
    order = make_order(users["User"])
    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 1}], actor=users["User"])
    data = photos.jpeg(photos.photo("coffee.png"))
    image = intake.add_image(order, source=io.BytesIO(data), filename="IMG_7.jpg", actor=None)
    image = intake.ingest_image(image.pk)
    client.force_login(users[role])
    url = f"/orders/{order.order_ref}/images/{image.pk}/prints/"
    page = client.get(url)
    if not sees:
        assert page.status_code == 404
        assert client.post(url, {"own": "on", "prints_8x10": "1"}).status_code == 404
        return
    html = page.content.decode()
    assert page.status_code == 200
    assert "1 × 4×6" in html
    assert 'data-testid="crop-editor"' in html
    assert ("data-can-edit" in html) is edits
    assert ('name="prints_8x10"' in html) is edits
    response = client.post(url, {"own": "on", "prints_8x10": "2"})
    if not edits:
        assert response.status_code == 403
        assert not ImagePrint.objects.filter(image=image).exists()
        return
    assert response.status_code == 302
    assert [(p.size.code, p.quantity) for p in ImagePrint.objects.filter(image=image)] == [
        ("8x10", 2)
    ]
    html = client.get(url).content.decode()
    assert "2 × 8×10" in html
    assert "this image&#x27;s own" in html or "this image's own" in html
    client.post(url, {"prints_8x10": "2"})  # "own" unticked: back to the order's prints
    assert not ImagePrint.objects.filter(image=image).exists()


def test_a_digital_only_image_states_its_pixels_and_the_largest_print(
    client, users, make_order, media_root, settings
):
    """Issue 16: no print ordered, no DPI; the page says what the delivered file is."""
    settings.PRINT_MIN_DPI = 60
    order = make_order(users["User"])
    data = photos.jpeg(photos.photo("coffee.png"))
    image = intake.add_image(order, source=io.BytesIO(data), filename="IMG_8.jpg", actor=None)
    image = intake.ingest_image(image.pk)
    client.force_login(users["Manager"])
    html = client.get(f"/orders/{order.order_ref}/images/{image.pk}/prints/").content.decode()
    w, h = image.width, image.height
    short_in = min(w, h) / 60  # the largest size whose short side fits at 60 DPI
    expected = "4×6" if short_in < 5 else "5×7" if short_in < 8 else "8×10"
    assert (
        f"The file delivered: {w}×{h} pixels ({round(w * h / 1e6, 1)} MP); prints up to "
        f"{expected} at 60 DPI. No print ordered, so it states no DPI." in html
    )
    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 1}], actor=users["User"])
    html = client.get(f"/orders/{order.order_ref}/images/{image.pk}/prints/").content.decode()
    assert 'data-testid="digital-facts"' not in html
