"""Good files of every accepted type: stored untouched, measured upright, previewed in sRGB."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image as PILImage

from orders.models import Image, Order, OrderEvent
from tests.orders.intake import photos

EXPECTED_EXIF = {
    "make": "Canon",
    "model": "Canon EOS R5",
    "lens": "Canon RF24-70mm F2.8 L IS USM",
    "captured_at": "2024-06-15T14:03:22+02:00",
    "exposure_time": 0.004,
    "exposure_time_text": "1/250 s",
    "f_number": 2.8,
    "iso": 400,
    "focal_length": 50.0,
}
GPS = {"latitude": 52.370083, "longitude": 4.891667, "altitude": 15.0}


def _with_exif(fmt: str, **options) -> bytes:
    return photos.encode(photos.photo(), fmt, exif=photos.camera_exif(gps=True), **options)


EVERY_TYPE = [
    pytest.param(lambda: _with_exif("JPEG", quality=90), "image/jpeg", id="jpeg"),
    pytest.param(
        lambda: _with_exif("JPEG", quality=90, progressive=True), "image/jpeg", id="progressive"
    ),
    pytest.param(lambda: _with_exif("PNG"), "image/png", id="png"),
    pytest.param(lambda: _with_exif("TIFF"), "image/tiff", id="tiff"),
    pytest.param(lambda: _with_exif("WEBP", quality=90), "image/webp", id="webp"),
    pytest.param(lambda: _with_exif("HEIF", quality=90), "image/heic", id="heic"),
]


def _preview(image: Image) -> PILImage.Image:
    with image.preview.open("rb") as handle:
        return PILImage.open(io.BytesIO(handle.read()))


def _thumbnail(image: Image) -> PILImage.Image:
    with image.thumbnail.open("rb") as handle:
        return PILImage.open(io.BytesIO(handle.read()))


def _assert_srgb_jpeg(rendition: PILImage.Image) -> None:
    assert rendition.format == "JPEG"
    assert rendition.mode == "RGB"
    assert "icc_profile" not in rendition.info  # plain sRGB, as browsers assume
    assert "exif" not in rendition.info  # renditions carry no metadata (no GPS)


@pytest.mark.parametrize(("make", "mime_type"), EVERY_TYPE)
def test_every_accepted_type_is_ingested(order, upload, stored_files, make, mime_type):
    data = make()
    image = upload(order, data, "IMG_0001")

    assert image.status == Image.Status.INGESTED, image.status_reason
    assert image.status_reason == ""
    assert image.mime_type == mime_type
    assert (image.width, image.height) == (600, 400)
    assert image.ingested_at is not None
    assert image.file_size == len(data)
    # The original is stored byte for byte.
    with image.original.open("rb") as handle:
        stored = handle.read()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest() == image.sha256
    # EXIF facts (GPS dropped by default: INGEST_STRIP_GPS is on).
    exif = image.metadata["exif"]
    assert {k: exif.get(k) for k in EXPECTED_EXIF} == EXPECTED_EXIF
    assert "gps" not in exif
    assert len(image.phash) == 16
    int(image.phash, 16)
    # Renditions: never upscaled, sRGB JPEGs, pixels matching the photo.
    preview, thumbnail = _preview(image), _thumbnail(image)
    assert preview.size == (600, 400)
    assert thumbnail.size == (400, 267)
    _assert_srgb_jpeg(preview)
    _assert_srgb_jpeg(thumbnail)
    assert photos.mean_difference(photos.photo(), preview) < 6
    assert len(stored_files()) == 3
    order.refresh_from_db()
    assert (order.total_images, order.ingested_images, order.status) == (
        1,
        1,
        Order.Status.PROCESSING,
    )


def test_gps_is_kept_when_the_studio_allows_it(order, upload, settings):
    settings.INGEST_STRIP_GPS = False
    image = upload(order, _with_exif("JPEG"), "gps.jpg")
    assert image.metadata["exif"]["gps"] == GPS


def test_exif_facts_are_json_safe(order, upload):
    image = upload(order, _with_exif("JPEG"), "facts.jpg")
    image.refresh_from_db()  # read back from the JSON column
    assert {k: image.metadata["exif"].get(k) for k in EXPECTED_EXIF} == EXPECTED_EXIF
    assert image.metadata["format"] == "jpeg"
    assert image.metadata["colour"]["interpretation"] == "srgb"
    assert len(image.metadata["phash_turned"]) == 3
    assert "ingest_attempts" not in image.metadata


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(order, upload, orientation):
    data = photos.oriented_jpeg(orientation, photos.photo("rocket.jpg"))
    upright = photos.shown_upright(data)
    assert photos.mean_difference(photos.photo("rocket.jpg"), upright) < 4  # the fixture is right

    image = upload(order, data, f"orientation-{orientation}.jpg")

    assert image.status == Image.Status.INGESTED
    assert (image.width, image.height) == (640, 427)  # upright, whatever the stored turn
    assert image.metadata["exif"]["orientation"] == orientation
    preview = _preview(image)
    assert preview.size == (640, 427)
    assert photos.mean_difference(upright, preview) < 6


def test_orientation_6_photo_is_portrait_everywhere(order, upload):
    """A camera held upright writes landscape pixels with orientation 6."""
    portrait = photos.photo().transpose(PILImage.Transpose.ROTATE_270)  # 400 x 600
    data = photos.oriented_jpeg(6, portrait)
    assert PILImage.open(io.BytesIO(data)).size == (600, 400)  # stored landscape

    image = upload(order, data, "portrait.jpg")

    assert (image.width, image.height) == (400, 600)
    preview, thumbnail = _preview(image), _thumbnail(image)
    assert preview.size == (400, 600)
    assert thumbnail.size == (267, 400)
    assert photos.mean_difference(portrait, preview) < 6


def test_large_photo_gets_a_2048_preview_and_400_thumbnail(order, upload):
    image = upload(order, photos.enlarged_jpeg(3000), "big.jpg")
    assert (image.width, image.height) == (3000, 2000)
    preview, thumbnail = _preview(image), _thumbnail(image)
    assert preview.size == (2048, 1365)
    assert thumbnail.width == 400
    assert abs(thumbnail.height - 267) <= 1  # made from the preview: 1365 * 400 / 2048
    assert photos.mean_difference(photos.photo(), preview) < 6


def test_cmyk_jpeg_is_converted_to_srgb(order, upload):
    image = upload(order, photos.cmyk_jpeg(), "print.jpg")
    assert image.status == Image.Status.INGESTED
    assert image.metadata["colour"]["interpretation"] == "cmyk"
    preview = _preview(image)
    _assert_srgb_jpeg(preview)
    # Back through the CMYK profile: close to the RGB photo, not inverted or washed out.
    assert photos.mean_difference(photos.photo(), preview) < 12


def test_display_p3_is_converted_to_srgb(order, upload):
    data = photos.p3_jpeg()
    image = upload(order, data, "iphone.jpg")
    assert image.metadata["colour"]["icc_profile"]
    preview = _preview(image)
    _assert_srgb_jpeg(preview)
    converted = photos.mean_difference(photos.photo(), preview)
    as_if_srgb = photos.mean_difference(photos.photo(), PILImage.open(io.BytesIO(data)))
    assert converted < 6
    assert converted < as_if_srgb  # ignoring the profile would be visibly off


def test_16_bit_png_is_scaled_to_8_bit(order, upload):
    image = upload(order, photos.png16(), "deep.png")
    assert image.metadata["colour"]["bits"] == 16
    preview = _preview(image)
    _assert_srgb_jpeg(preview)
    assert photos.mean_difference(photos.photo(), preview) < 6  # scaled, not clipped to white


def test_16_bit_lzw_tiff_is_ingested(order, upload):
    data = photos.vips_variant(photos.vips_photo().colourspace("rgb16"), ".tif", compression="lzw")
    image = upload(order, data, "scan.tif")
    assert (image.status, image.mime_type) == (Image.Status.INGESTED, "image/tiff")
    assert photos.mean_difference(photos.photo(), _preview(image)) < 6


def test_greyscale_photo_gets_rgb_renditions(order, upload):
    image = upload(order, photos.encode(photos.photo("camera.png"), "PNG"), "grey.png")
    assert image.status == Image.Status.INGESTED
    _assert_srgb_jpeg(_preview(image))


def test_transparent_png_is_flattened_on_white(order, upload):
    rgba = photos.photo().convert("RGBA")
    rgba.putalpha(0)  # fully transparent
    image = upload(order, photos.encode(rgba, "PNG"), "cutout.png")
    preview = _preview(image)
    _assert_srgb_jpeg(preview)
    assert min(preview.convert("L").getextrema()) > 240


def test_ingest_is_idempotent(order, add, ingest):
    image = ingest(add(order, photos.jpeg(), "once.jpg"))
    events = OrderEvent.objects.filter(order=order).count()
    again = ingest(image)
    assert (again.status, again.preview.name) == (image.status, image.preview.name)
    assert OrderEvent.objects.filter(order=order).count() == events


def test_order_moves_to_processing_once_all_images_are_done(order, add, ingest):
    first = add(order, photos.jpeg(), "one.jpg")
    bad = add(order, b"<html>not a photo</html>", "two.jpg")
    third = add(order, photos.jpeg(photos.photo("chelsea.png")), "three.jpg")
    ingest(first)
    ingest(bad)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING  # three.jpg still waits
    ingest(third)
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert (order.ingested_images, order.rejected_images) == (2, 1)
    moves = OrderEvent.objects.filter(
        order=order, kind=OrderEvent.Kind.ORDER_STATUS, payload__to=Order.Status.PROCESSING
    )
    assert [e.payload["reason"] for e in moves] == ["all images ingested"]
    assert moves.get().actor is None
