"""The pure imaging functions, without a database: sniffing, EXIF, hashes, the whole pass."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from PIL import Image as PILImage
from PIL.TiffImagePlugin import IFDRational

from orders.imaging import ChecksumMismatch, ImageRejected, distance, nearest, process
from orders.imaging.exif import facts
from orders.imaging.header import Header
from orders.imaging.phash import GRID, hash_grid
from orders.imaging.sniff import sniff
from tests.orders.intake import photos

NOT_A_PHOTO = "not a photograph: accepted types are JPEG, PNG, TIFF, WebP and HEIC."


@pytest.mark.parametrize(
    ("head", "mime_type"),
    [
        (b"\xff\xd8\xff\xe1\x00\x10Exif", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"RIFF\x00\x10\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "image/heif"),
    ],
)
def test_sniff_accepts_the_five_photo_formats(head, mime_type):
    assert sniff(head).mime_type == mime_type


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"", "The file is empty (0 bytes)."),
        (b"hello\nworld\n", "This is a text file, " + NOT_A_PHOTO),
        ("héllo wörld".encode("utf-16"), "This is a text file, " + NOT_A_PHOTO),
        (b"\xef\xbb\xbf  <!doctype HTML><html>", "This is a web page (HTML), " + NOT_A_PHOTO),
        (b'<?xml version="1.0"?>\n<!-- x -->\n<svg>', "This is an SVG drawing, " + NOT_A_PHOTO),
        (b'<?xml version="1.0"?><feed/>', "This is an XML document, " + NOT_A_PHOTO),
        (b'{"photo": true}', "This is a data file (JSON), " + NOT_A_PHOTO),
        (b"%PDF-1.7\n", "This is a PDF document, " + NOT_A_PHOTO),
        (b"PK\x03\x04\x14\x00", "This is a ZIP archive (or an Office document), " + NOT_A_PHOTO),
        (b"MZ\x90\x00\x03\x00", "This is a Windows program, " + NOT_A_PHOTO),
        (b"II*\x00\x10\x00\x00\x00CR\x02\x00", "This is a camera RAW file (Canon CR2), "),
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom", "This is a camera RAW file"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif", "This is an AVIF image"),
        (b"\x00\x00\x00\x18ftypqt  \x00\x00\x02\x00qt  ", "This is a video, " + NOT_A_PHOTO),
        (b"BM\x8a\x00\x00\x00\x00\x00", "This is a BMP bitmap, " + NOT_A_PHOTO),
        (b"GIF89a\x01\x00", "This is a GIF image, which is not accepted"),
    ],
)
def test_sniff_names_what_it_refuses(head, reason):
    with pytest.raises(ImageRejected) as refused:
        sniff(head)
    assert refused.value.reason.startswith(reason)


def test_phash_turned_hashes_equal_hashes_of_turned_grids():
    """The coefficient trick (transpose + signs) must equal really turning the picture."""
    rng = random.Random(7)
    grid = [[rng.randrange(256) for _ in range(GRID)] for _ in range(GRID)]
    turned = hash_grid(grid).turned
    clockwise = [list(row) for row in zip(*grid[::-1], strict=True)]  # 90° clockwise
    half = [row[::-1] for row in grid[::-1]]
    counter = [list(row) for row in zip(*grid, strict=True)][::-1]  # 270° clockwise
    assert turned == (
        hash_grid(clockwise).upright,
        hash_grid(half).upright,
        hash_grid(counter).upright,
    )


def test_nearest_prefers_the_closest_then_the_earliest():
    base = "ffff0000ffff0000"
    two_bits = "ffff0000ffff0003"
    assert distance(base, two_bits) == 2
    candidates = [(9, two_bits), (5, two_bits), (3, "0000ffff0000ffff"), (4, "short")]
    assert nearest([base], candidates, max_distance=6) == (5, 2)
    assert nearest([base], candidates, max_distance=1) is None


@pytest.mark.parametrize(("orientation", "size"), [(1, (6, 4)), (3, (6, 4)), (6, (4, 6))])
def test_upright_size_turns_for_orientations_5_to_8(orientation, size):
    header = Header(6, 4, orientation, None, 3, 8, "srgb", None)
    assert header.upright_size == size


def test_exif_facts_skip_broken_values():
    exif = PILImage.Exif()
    exif[0x010F] = "Canon\x00\x00  "
    exif[0x0112] = 42
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = IFDRational(1, 0)  # zero denominator
    sub[0x829D] = IFDRational(0, 1)
    sub[0x9003] = "0000:00:00 00:00:00"  # "unknown" as cameras write it
    sub[0x9004] = "2023:01:02 03:04:05"
    sub[0x9012] = "+2:00"  # malformed offset
    assert facts(exif, strip_gps=False) == {
        "make": "Canon",
        "captured_at": "2023-01-02T03:04:05",
    }


def test_process_is_pure_and_its_metadata_json_safe(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(photos.jpeg(exif=photos.camera_exif(gps=True, orientation=6)))
    result = process(path, max_pixels=10**8, strip_gps=False, preview_size=300, thumbnail_size=100)
    assert (result.width, result.height) == (400, 600)
    assert result.preview_size == (200, 300)
    assert result.thumbnail_size == (67, 100)
    assert result.exif["gps"]["latitude"] == pytest.approx(52.370083)
    assert set(result.timings_ms) == {"header", "renditions", "phash", "read"}
    assert json.loads(json.dumps(result.metadata()))["exif"] == result.exif


def test_process_hashes_the_whole_file_beside_the_decode(tmp_path):
    """The hash runs on a thread beside the decode; it is still the whole file's."""
    data = photos.jpeg(exif=photos.camera_exif())
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    result = process(
        path, max_pixels=10**8, strip_gps=True, preview_size=300, thumbnail_size=100,
        expected_sha256=expected,
    )  # fmt: skip
    assert (result.sha256, result.file_size) == (expected, len(data))


@pytest.mark.parametrize(
    "content", [photos.jpeg(), b"<svg onload='alert(1)'/>"], ids=["photo", "not-a-photo"]
)
def test_a_changed_file_is_a_checksum_mismatch_before_any_verdict(tmp_path, content):
    """A stored file that changed since upload is a storage fault, whatever it now holds."""
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(ChecksumMismatch):
        process(
            path, max_pixels=10**8, strip_gps=True, preview_size=300, thumbnail_size=100,
            expected_sha256="0" * 64,
        )  # fmt: skip


def test_process_refuses_a_file_named_like_a_photo(tmp_path):
    path = Path(tmp_path / "photo.jpg")
    path.write_text("<svg onload='alert(1)'/>")
    with pytest.raises(ImageRejected) as refused:
        process(path, max_pixels=10**8, strip_gps=True, preview_size=300, thumbnail_size=100)
    assert refused.value.code == "svg"
