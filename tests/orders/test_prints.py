"""Prints: the seeded sizes, print lines per order and image (services, roles, timeline, audit),
crop placement (pure geometry and on a real photo with a face) and the renditions delivered.
"""

from __future__ import annotations

import io

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied
from PIL import Image as PILImage

from orders import crops, intake, print_services, prints
from orders.models import Image, ImagePrint, Order, OrderEvent, OrderPrint, PrintCrop, PrintSize
from orders.timeline import describe, sentence
from tests.orders.intake import photos
from utilities.errors import OrderError

pytestmark = pytest.mark.django_db

S = Image.Status


def _jpeg(width: int, height: int, *, exif=None) -> bytes:
    picture = photos.photo("coffee.png").resize((width, height))
    return photos.jpeg(picture, exif=exif) if exif is not None else photos.jpeg(picture)


def _ingested(order: Order, data: bytes, name: str = "IMG_0001.jpg") -> Image:
    image = intake.add_image(order, source=io.BytesIO(data), filename=name, actor=None)
    image = intake.ingest_image(image.pk)
    assert image.status in (S.INGESTED, S.NEEDS_REVIEW), image.status_reason
    return Image.objects.select_related("order").get(pk=image.pk)


# --- the list of sizes --------------------------------------------------------------------


def test_the_migration_seeds_the_studio_sizes():
    sizes = {s.code: s for s in PrintSize.objects.all()}
    assert {"4x6", "5x7", "8x10", "11x14", "digital"} <= set(sizes)
    assert sizes["8x10"].inches() == (8.0, 10.0)
    assert sizes["8x10"].label == "8×10"
    assert sizes["digital"].is_physical is False
    assert all(s.active for s in sizes.values())


# --- geometry --------------------------------------------------------------------------------


def test_crop_is_the_largest_of_the_aspect_and_centred_without_faces():
    rect, by_faces = crops.place(1800, 1200, 10 / 8)
    assert not by_faces
    assert rect.height == pytest.approx(1.0)
    assert rect.width * 1800 == pytest.approx(1500)
    assert rect.x * 1800 == pytest.approx(150)
    pixels = crops.to_pixels(rect, 1800, 1200, 10 / 8)
    assert (pixels.width, pixels.height) == (1500, 1200)
    assert crops.effective_dpi(pixels.width, pixels.height, 10, 8) == 150


def test_crop_follows_faces_and_stays_inside_the_picture():
    # A face at the far left: the crop moves left until it meets the edge.
    rect, by_faces = crops.place(3000, 1000, 1.0, faces=[(100, 300, 200, 200)])
    assert by_faces
    assert rect.x == 0
    # A face near the right: the crop is centred on it.
    rect, _ = crops.place(3000, 1000, 1.0, faces=[(2000, 300, 200, 200)])
    assert rect.x * 3000 == pytest.approx(2100 - 500)


def test_orientation_follows_the_photo():
    assert crops.print_inches(4, 6, 3000, 2000) == (6, 4)
    assert crops.print_inches(4, 6, 2000, 3000) == (4, 6)


# --- lines: services and roles --------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "whose", "allowed"),
    [
        ("Admin", "other", True),
        ("Manager", "other", True),
        ("User", "User", True),
        ("User", "other", False),
        ("Viewer", "other", False),
    ],
)
def test_who_may_change_what_was_ordered(users, make_order, role, whose, allowed):
    order = make_order(users[whose])
    lines = [{"size": "4x6", "quantity": 2}, {"size": "8x10", "quantity": 1}]
    if not allowed:
        with pytest.raises(PermissionDenied):
            print_services.set_order_prints(order, lines, actor=users[role])
        assert not OrderPrint.objects.filter(order=order).exists()
        return
    print_services.set_order_prints(order, lines, actor=users[role])
    got = {(p.size.code, p.quantity) for p in prints.order_lines(order)}
    assert got == {("4x6", 2), ("8x10", 1)}
    entry = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.ORDER_PRINTS).get()
    assert sentence(entry.kind, entry.payload) == "Prints ordered: 2 × 4×6, 1 × 8×10"
    assert LogEntry.objects.get_for_model(OrderPrint).count() == 2


def test_lines_are_checked(users, make_order):
    order = make_order(users["User"])
    bad = [
        [{"size": "9x99", "quantity": 1}],
        [{"size": "4x6", "quantity": 0}],
        [{"size": "4x6", "quantity": 1}, {"size": "4x6", "quantity": 2}],
        [{"size": "4x6", "quantity": True}],
    ]
    for lines in bad:
        with pytest.raises(print_services.InvalidPrintInput):
            print_services.set_order_prints(order, lines, actor=users["User"])
    PrintSize.objects.filter(code="11x14").update(active=False)
    with pytest.raises(print_services.InvalidPrintInput, match="no longer offered"):
        print_services.set_order_prints(
            order, [{"size": "11x14", "quantity": 1}], actor=users["User"]
        )


def test_lines_are_refused_once_the_order_is_handed_to_delivery(users, make_order):
    order = make_order(users["Manager"])
    Order.objects.filter(pk=order.pk).update(ai_processed=True, status="processing")
    with pytest.raises(OrderError, match="handed to the PMR delivery"):
        print_services.set_order_prints(
            order, [{"size": "4x6", "quantity": 1}], actor=users["Manager"]
        )


def test_an_image_may_have_its_own_lines(users, make_order, media_root):
    order = make_order(users["User"])
    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 3}], actor=users["User"])
    image = _ingested(order, _jpeg(1800, 1200))
    assert [(line.size.code, line.own) for line in prints.ordered_lines(image)] == [("4x6", False)]
    print_services.set_image_prints(
        image,
        [{"size": "5x7", "quantity": 1}, {"size": "digital", "quantity": 1}],
        actor=users["User"],
    )
    assert [(line.size.code, line.own) for line in prints.ordered_lines(image)] == [
        ("digital", True),
        ("5x7", True),
    ]
    assert [s.code for s in prints.ordered_sizes(image)] == ["5x7"]  # digital needs no crop
    entry = describe([OrderEvent.objects.filter(kind=OrderEvent.Kind.IMAGE_PRINTS).latest("seq")])
    assert entry[0].text == "Prints of IMG_0001.jpg: 1 × Digital file, 1 × 5×7"
    print_services.set_image_prints(image, [], actor=users["User"])
    assert not ImagePrint.objects.filter(image=image).exists()
    assert [line.size.code for line in prints.ordered_lines(image)] == ["4x6"]
    with pytest.raises(PermissionDenied):
        print_services.set_image_prints(
            image, [{"size": "5x7", "quantity": 1}], actor=users["Viewer"]
        )


# --- crops -------------------------------------------------------------------------------


def test_crop_facts_and_shortfall_sentence(users, make_order, media_root, settings):
    settings.PRINT_MIN_DPI = 300
    order = make_order(users["Manager"])
    print_services.set_order_prints(
        order,
        [{"size": "4x6", "quantity": 1}, {"size": "8x10", "quantity": 1}],
        actor=users["Manager"],
    )
    image = _ingested(order, _jpeg(1800, 1200))
    facts = {f.size.code: f for f in prints.crop_facts(image)}
    assert facts["4x6"].dpi == 300
    assert not facts["4x6"].short
    assert (facts["4x6"].pixels.width, facts["4x6"].pixels.height) == (1800, 1200)
    assert facts["8x10"].short
    assert prints.print_shortfall(image) == (
        "8×10 needs 3000×2400 pixels at 300 DPI; this crop has 1500×1200 (150 DPI)."
    )
    assert {c.basis for c in PrintCrop.objects.filter(image=image)} == {"centre"}


def test_a_crop_placed_by_hand_is_kept_to_the_aspect_and_audited(users, make_order, media_root):
    order = make_order(users["User"])
    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 1}], actor=users["User"])
    image = _ingested(order, _jpeg(1800, 1200))
    # A stretched box (wrong aspect), partly outside: the service fixes both.
    crop = print_services.save_crop(
        image, "4x6", {"x": 0.8, "y": 0.1, "width": 0.5, "height": 0.2}, actor=users["User"]
    )
    assert crop.basis == PrintCrop.Basis.MANUAL
    assert crop.x + crop.width <= 1.0001
    assert (crop.width * 1800) / (crop.height * 1200) == pytest.approx(6 / 4, rel=1e-3)
    fact = prints.crop_facts(image)[0]
    assert fact.dpi == crops.effective_dpi(fact.pixels.width, fact.pixels.height, 6, 4)
    assert fact.dpi < 300
    entry = OrderEvent.objects.filter(kind=OrderEvent.Kind.IMAGE_CROP).latest("seq")
    text = sentence(entry.kind, entry.payload)
    assert text.startswith("4×6 crop of")
    assert f"({fact.dpi} DPI)" in text
    assert LogEntry.objects.get_for_model(PrintCrop).filter(object_pk=str(crop.pk)).exists()
    # Manual crops are not moved by the automatic placement...
    prints.crop_facts(image)
    assert PrintCrop.objects.get(pk=crop.pk).basis == "manual"
    # ...until a person resets it.
    reset = print_services.reset_crop(image, "4x6", actor=users["User"])
    assert reset.basis == "centre"
    assert reset.width == pytest.approx(1.0)
    with pytest.raises(OrderError, match="not printed at 8x10"):
        print_services.save_crop(
            image, "8x10", {"x": 0, "y": 0, "width": 0.5, "height": 0.5}, actor=users["User"]
        )
    with pytest.raises(PermissionDenied):
        print_services.save_crop(
            image, "4x6", {"x": 0, "y": 0, "width": 0.5, "height": 0.5}, actor=users["Viewer"]
        )
    with pytest.raises(print_services.InvalidPrintInput):
        print_services.save_crop(
            image, "4x6", {"x": "nan", "y": 0, "width": 0.5, "height": 0.5}, actor=users["User"]
        )


def _face_photo() -> bytes:
    """The astronaut portrait (a real face) on a tall canvas: the face is near the top."""
    face = photos.photo("astronaut.png")
    canvas = PILImage.new("RGB", (face.width, face.height * 2 + 100), (90, 90, 90))
    canvas.paste(face, (0, 0))
    return photos.jpeg(canvas, quality=92)


def test_crop_goes_around_the_face_the_local_analysis_found(users, make_order, media_root):
    from ai_processing.providers.base import ImageInput
    from ai_processing.providers.local import LocalProvider

    order = make_order(users["Manager"])
    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 1}], actor=users["Manager"])
    image = _ingested(order, _face_photo())
    with image.original.open("rb") as fh:
        result = LocalProvider().analyze(ImageInput.from_bytes(fh.read()))
    found = result.facts["faces"]
    if not found.get("available"):
        pytest.skip(found.get("reason", "no face detector"))
    assert found["count"] >= 1
    Image.objects.filter(pk=image.pk).update(ai_metadata={"analyze": {"facts": result.facts}})
    image.refresh_from_db()
    crop = prints.crop_facts(image)[0].crop
    assert crop.basis == PrintCrop.Basis.FACES
    _x, y, _w, h = found["faces"][0]["box"]
    top, bottom = crop.y * image.height, (crop.y + crop.height) * image.height
    assert top <= y, (top, found["faces"])
    assert y + h <= bottom, (bottom, found["faces"])
    centred, _ = crops.place(image.width, image.height, 4 / 6)
    assert crop.y < centred.y  # moved up toward the face, not left in the middle


# --- renditions --------------------------------------------------------------------------


def test_renditions_are_the_crops_pixels_with_their_dpi(users, make_order, media_root):
    order = make_order(users["Manager"])
    print_services.set_order_prints(
        order,
        [
            {"size": "4x6", "quantity": 1},
            {"size": "5x7", "quantity": 2},
            {"size": "digital", "quantity": 1},
        ],
        actor=users["Manager"],
    )
    # Stored turned (EXIF orientation 6): the rendition must come out upright, 1200×1800.
    upright = photos.photo("coffee.png").resize((1200, 1800))
    stored = upright.transpose(photos.STORED[6])
    data = photos.encode(stored, "JPEG", exif=photos.camera_exif(orientation=6), quality=92)
    image = _ingested(order, data)
    assert (image.width, image.height) == (1200, 1800)
    renditions = {r.size_code: r for r in prints.print_renditions(image)}
    assert set(renditions) == {"4x6", "5x7"}
    four = renditions["4x6"]
    assert (four.width, four.height, four.dpi) == (1200, 1800, 300)
    for r in renditions.values():
        jpeg = r.render()
        with PILImage.open(io.BytesIO(jpeg)) as out:
            assert out.format == "JPEG"
            assert out.size == (r.width, r.height)
            assert out.info["dpi"] == pytest.approx((r.dpi, r.dpi))
            exif = out.getexif()
            assert float(exif[0x011A]) == r.dpi
            assert exif[0x0128] == 2
            assert exif.get(0x0112, 1) == 1  # upright, no orientation left to apply
            assert "gps" not in {str(k).lower() for k in exif.get_ifd(0x8825)}
    # The best available file wins: a processed file (smaller here) lowers the DPI.
    half = photos.jpeg(upright.resize((600, 900)))
    image.processed.save("processed.jpg", _content(half), save=True)
    image = Image.objects.select_related("order").get(pk=image.pk)
    smaller = {r.size_code: r for r in prints.print_renditions(image)}["4x6"]
    assert (smaller.width, smaller.height, smaller.dpi) == (600, 900, 150)


def _content(data: bytes):
    from django.core.files.base import ContentFile

    return ContentFile(data)


@pytest.mark.parametrize(("role", "allowed"), [("Admin", True), ("Manager", True), ("User", False)])
def test_print_sizes_are_kept_in_the_admin(client, users, role, allowed):
    client.force_login(users[role])
    response = client.get("/admin/orders/printsize/")
    if not allowed:
        assert response.status_code in (302, 403)
        return
    assert response.status_code == 200
    assert "8×10" in response.content.decode()
    size = PrintSize.objects.get(code="11x14")
    change = client.post(
        f"/admin/orders/printsize/{size.pk}/change/",
        {
            "code": "11x14",
            "label": "11×14",
            "width_in": "11",
            "height_in": "14",
            "position": "40",
        },  # "active" left out: unticked
    )
    assert change.status_code == 302, change.content.decode()[:1000]
    size.refresh_from_db()
    assert size.active is False
    assert LogEntry.objects.get_for_model(PrintSize).filter(object_pk=str(size.pk)).exists()


def test_an_unreadable_processed_file_is_a_sentence_not_an_error(users, make_order, media_root):
    from orders.print_api import image_prints_body

    order = make_order(users["Manager"])
    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 1}], actor=users["Manager"])
    image = _ingested(order, _jpeg(1800, 1200))
    image.processed.save("broken.jpg", _content(b"not a picture"), save=True)
    body = image_prints_body(Image.objects.select_related("order").get(pk=image.pk))
    assert body["crops"] == []
    assert body["crops_problem"].startswith("The crops could not be computed")
