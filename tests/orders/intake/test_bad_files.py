"""A corpus of bad files, each refused with a clear reason and nothing left on disk.

Every file goes through the real services, as an upload would: ``add_image``
stores it, ``ingest_image`` judges it. No exception may escape; a refused file
keeps its row (so the user sees why) and no bytes, original or rendition.
"""

from __future__ import annotations

import pytest
import pyvips

from orders.models import Image, Order, OrderEvent
from tests.orders.intake import photos
from utilities.errors import OrderError

ACCEPTED = "accepted types are JPEG, PNG, TIFF, WebP and HEIC."
NOT_A_PHOTO = "not a photograph: " + ACCEPTED

SVG_WITH_SCRIPT = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">
  <script>alert(document.cookie)</script>
  <rect width="100" height="100" fill="red"/>
</svg>
"""
HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>Photo</title></head><body>hi</body></html>\n"


def _truncated_jpeg() -> bytes:
    data = photos.jpeg()
    return data[: len(data) // 2]


def _damaged_jpeg() -> bytes:
    """A JPEG signature followed by noise: no valid header after the first bytes."""
    return b"\xff\xd8\xff\xe0" + bytes((i * 37 + 11) % 251 for i in range(4000))


def _avif() -> bytes:
    return photos.vips_variant(photos.vips_photo(), ".avif")


def _gif() -> bytes:
    return photos.encode(photos.photo().convert("P"), "GIF")


def _pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _video() -> bytes:
    return b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64


BAD_FILES = [
    pytest.param(
        _truncated_jpeg,
        "photo.jpg",
        "The file is incomplete: it ends before the picture does",
        id="truncated-jpeg",
    ),
    pytest.param(
        _damaged_jpeg,
        "photo.jpg",
        "The file is damaged: it starts like a JPEG image but cannot be read as one.",
        id="damaged-jpeg",
    ),
    pytest.param(
        lambda: b"Dear studio,\nplease find the photos attached.\n",
        "photo.jpg",
        "This is a text file, " + NOT_A_PHOTO,
        id="text-as-jpg",
    ),
    pytest.param(
        lambda: HTML_PAGE,
        "photo.jpg",
        "This is a web page (HTML), " + NOT_A_PHOTO,
        id="html-as-jpg",
    ),
    pytest.param(
        lambda: SVG_WITH_SCRIPT, "drawing.svg", "This is an SVG drawing, " + NOT_A_PHOTO, id="svg"
    ),
    pytest.param(
        lambda: SVG_WITH_SCRIPT,
        "photo.jpg",
        "This is an SVG drawing, " + NOT_A_PHOTO,
        id="svg-as-jpg",
    ),
    pytest.param(
        photos.png_bomb,
        "bomb.png",
        "The image is too large: 100,000 x 100,000 pixels (10,000 megapixels); "
        "the limit is 120 megapixels.",
        id="png-decompression-bomb",
    ),
    pytest.param(
        _gif, "anim.gif", "This is a GIF image, which is not accepted: " + ACCEPTED, id="gif"
    ),
    pytest.param(_pdf, "scan.jpg", "This is a PDF document, " + NOT_A_PHOTO, id="pdf"),
    pytest.param(
        _avif, "photo.avif", "This is an AVIF image, which is not accepted: " + ACCEPTED, id="avif"
    ),
    pytest.param(_video, "clip.jpg", "This is a video, " + NOT_A_PHOTO, id="video"),
    pytest.param(
        lambda: bytes(range(256)) * 8,
        "photo.jpg",
        "This file is not an image we recognise: " + ACCEPTED,
        id="random-bytes",
    ),
]


@pytest.mark.parametrize(("make", "name", "reason"), BAD_FILES)
def test_bad_file_is_rejected_with_reason_and_nothing_stored(
    order, upload, stored_files, make, name, reason
):
    image = upload(order, make(), name)

    assert image.status == Image.Status.REJECTED
    assert image.status_reason.startswith(reason), image.status_reason
    assert image.original_filename == name
    assert (image.original.name, image.preview.name, image.thumbnail.name) == ("", "", "")
    assert stored_files() == []
    assert image.metadata["rejection"]["code"]
    order.refresh_from_db()
    assert (order.total_images, order.rejected_images, order.ingested_images) == (1, 1, 0)
    # A rejected file is on the timeline with its reason.
    event = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.IMAGE_STATUS).last()
    assert event.payload["to"] == Image.Status.REJECTED
    assert event.payload["reason"] == image.status_reason


def test_empty_file_is_rejected_at_upload(order, upload, stored_files):
    image = upload(order, b"", "empty.jpg")
    assert image.status == Image.Status.REJECTED
    assert image.status_reason == "File is empty (0 bytes)."
    assert stored_files() == []


def test_image_over_a_lowered_pixel_limit_is_rejected(order, upload, stored_files, settings):
    settings.INGEST_MAX_PIXELS = 200_000  # coffee.png is 600 x 400 = 240 000 pixels
    image = upload(order, photos.jpeg(), "coffee.jpg")
    assert image.status == Image.Status.REJECTED
    assert image.status_reason == (
        "The image is too large: 600 x 400 pixels (0.24 megapixels); the limit is 0.2 megapixels."
    )
    assert stored_files() == []


def test_pixel_limit_counts_declared_pixels_not_file_size(order, upload, settings):
    settings.INGEST_MAX_PIXELS = 240_000  # exactly coffee.png: allowed
    assert upload(order, photos.jpeg(), "coffee.jpg").status == Image.Status.INGESTED


def test_truncated_png_and_heic_are_rejected(order, upload, stored_files):
    png = photos.encode(photos.photo(), "PNG")
    heic = photos.encode(photos.photo(), "HEIF")
    cut_png = upload(order, png[: len(png) * 2 // 3], "cut.png")
    cut_heic = upload(order, heic[: len(heic) // 2], "cut.heic")
    assert cut_png.status == cut_heic.status == Image.Status.REJECTED
    assert cut_png.status_reason.startswith("The file is damaged or incomplete: its PNG")
    assert cut_heic.status_reason.startswith("The file is incomplete")
    assert stored_files() == []


def test_same_file_twice_in_one_order_is_stored_once(order, upload, stored_files):
    data = photos.jpeg()
    first = upload(order, data, "IMG_0001.jpg")
    second = upload(order, data, "IMG_0001 copy.jpg")
    assert first.status == Image.Status.INGESTED
    assert second.status == Image.Status.REJECTED
    assert second.status_reason == "Exact duplicate of IMG_0001.jpg; stored once."
    assert second.duplicate_of_id == first.pk
    # Only the first one's original and renditions are on disk.
    assert sorted(stored_files()) == sorted(
        map(_relative, (first.original.name, first.preview.name, first.thumbnail.name))
    )


def test_names_with_folders_are_never_used_as_paths(order, upload, stored_files, media_root):
    image = upload(order, photos.jpeg(), "../../../etc/passwd.jpg")
    assert image.status == Image.Status.INGESTED
    assert image.original_filename == "passwd.jpg"
    assert image.original.name.startswith(f"originals/{order.pk}/")
    assert ".." not in image.original.name
    for name in (image.original.name, image.preview.name, image.thumbnail.name):
        assert _relative(name) in stored_files()
    # Nothing was written outside MEDIA_ROOT's own folders.
    assert {p.parts[0] for p in stored_files()} == {"originals", "renditions"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("ünïcödé fötö, 写真 (фото).jpg", id="non-latin"),
        pytest.param("a" * 400 + ".jpg", id="very-long"),
        pytest.param("photo\x00.jpg\r\n", id="control-characters"),
    ],
)
def test_odd_names_are_shown_safely_and_stored_under_server_names(order, upload, name):
    image = upload(order, photos.jpeg(), name)
    assert image.status == Image.Status.INGESTED
    assert len(image.original_filename) <= 255
    assert image.original_filename.isprintable()
    assert image.original_filename.endswith(".jpg")
    assert image.original.name.startswith(f"originals/{order.pk}/")
    assert image.original.name.isascii()


def test_content_decides_the_type_not_the_name(order, upload):
    image = upload(order, photos.jpeg(), "really-a-jpeg.png")
    assert image.status == Image.Status.INGESTED
    assert image.mime_type == "image/jpeg"


def test_a_rejected_image_alone_leaves_the_order_pending(order, upload):
    upload(order, HTML_PAGE, "page.jpg")
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_missing_original_fails_without_escaping(order, add, ingest):
    image = add(order, photos.jpeg(), "gone.jpg")
    image.original.storage.delete(image.original.name)
    image = ingest(image)
    assert image.status == Image.Status.FAILED
    assert image.status_reason == "The stored file is missing; please upload it again."


def test_stored_bytes_changed_after_upload_fail(order, add, ingest):
    image = add(order, photos.jpeg(), "changed.jpg")
    with image.original.storage.open(image.original.name, "wb") as handle:
        handle.write(photos.jpeg(quality=50))
    image = ingest(image)
    assert image.status == Image.Status.FAILED
    assert "no longer matches the uploaded one" in image.status_reason


def test_vips_never_gets_an_untrusted_loader():
    """Defence in depth: libvips' untrusted loaders (SVG, PDF, ...) stay blocked."""
    from orders.imaging import vips

    vips.configure()
    with pytest.raises(pyvips.Error):
        pyvips.Image.new_from_buffer(SVG_WITH_SCRIPT, "").avg()


def _relative(name: str):
    from pathlib import Path

    return Path(name)


def test_failed_ingest_can_be_retried(order, add, ingest, manager):
    from orders import intake

    data = photos.jpeg()
    image = add(order, data, "flaky.jpg")
    path = image.original.path
    with open(path, "wb") as handle:  # a storage fault: the bytes changed under us
        handle.write(b"garbage")
    assert ingest(image).status == Image.Status.FAILED
    with open(path, "wb") as handle:  # the storage is repaired
        handle.write(data)

    retried = intake.retry_ingest(image, actor=manager)
    assert retried.status == Image.Status.UPLOADED
    assert ingest(retried).status == Image.Status.INGESTED
    with pytest.raises(OrderError):
        intake.retry_ingest(retried, actor=manager)
