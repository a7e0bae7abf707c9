"""Captions, alt text and keywords in the processed JPEG's XMP (ai_processing/xmp.py).

The unit tests need neither database nor Redis; the last test runs the pipeline's services
in-process with the Runware simulator as the only provider, on PostgreSQL and Redis.
"""

from __future__ import annotations

import io
import warnings
import xml.etree.ElementTree as ET

import httpx
import pytest
from PIL import Image as PILImage

from ai_processing import services
from ai_processing.models import ProcessingPreset
from ai_processing.simulator import RunwareSimulator
from ai_processing.xmp import NS, XMP_HEADER, NotAJpeg, embed_caption, read_xmp, segments
from orders.models import Image
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    ingested_order_fixture,
    manager_fixture,
    media_root_fixture,
)

RDF_LI = f"{{{NS['rdf']}}}li"


def jpeg(*, exif: bool = False, size=(64, 48)) -> bytes:
    picture = PILImage.new("RGB", size)
    for x in range(size[0]):
        for y in range(size[1]):
            picture.putpixel((x, y), (x * 4 % 256, y * 5 % 256, (x * y) % 256))
    out = io.BytesIO()
    options = {}
    if exif:
        data = PILImage.Exif()
        data[0x010F] = "Canon"
        options["exif"] = data.tobytes()
    picture.save(out, format="JPEG", quality=90, **options)
    return out.getvalue()


def fields(data: bytes) -> dict[str, object]:
    """Caption, alt text and keywords parsed back from the one XMP packet with xml.etree."""
    packets = read_xmp(data)
    assert len(packets) == 1
    root = ET.fromstring(packets[0].decode("utf-8"))
    desc = root.find(f".//{{{NS['rdf']}}}Description")
    assert desc is not None

    def alt(tag: str) -> str | None:
        node = desc.find(f"{tag}//{RDF_LI}")
        return None if node is None else node.text

    return {
        "caption": alt(f"{{{NS['dc']}}}description"),
        "alt_text": alt(f"{{{NS['Iptc4xmpCore']}}}AltTextAccessibility"),
        "keywords": [li.text for li in desc.findall(f"{{{NS['dc']}}}subject//{RDF_LI}")],
    }


def pixels(data: bytes) -> bytes:
    with PILImage.open(io.BytesIO(data)) as picture:
        return picture.convert("RGB").tobytes()


def test_xmp_is_readable_back_and_pillow_opens_the_file():
    original = jpeg()
    out = embed_caption(
        original,
        caption="A bride laughing",
        alt_text="Woman in white",
        keywords=["wedding", "dress"],
    )
    assert fields(out) == {
        "caption": "A bride laughing",
        "alt_text": "Woman in white",
        "keywords": ["wedding", "dress"],
    }
    with PILImage.open(io.BytesIO(out)) as picture:
        picture.load()
        assert picture.size == (64, 48)
        assert picture.info["xmp"] == read_xmp(out)[0]
        if hasattr(picture, "getxmp"):
            with warnings.catch_warnings():  # {} and a warning without defusedxml
                warnings.simplefilter("ignore")
                xmp = picture.getxmp()
            if xmp:
                description = xmp["xmpmeta"]["RDF"]["Description"]["description"]
                assert description["Alt"]["li"]["text"] == "A bride laughing"


def test_segment_goes_after_app0_and_exif_and_image_data_is_byte_identical():
    original = jpeg(exif=True)
    out = embed_caption(original, caption="c", alt_text="a", keywords=["k"])
    before, sos_before = segments(original)
    after, sos_after = segments(out)
    markers = [m for m, _ in after]
    assert markers[:3] == [0xE0, 0xE1, 0xE1]  # JFIF, Exif, XMP
    assert after[1][1] == before[1][1]  # Exif untouched
    assert [s for _, s in after if s not in {after[2][1]}] == [s for _, s in before]
    assert out[sos_after:] == original[sos_before:]
    assert pixels(out) == pixels(original)
    with PILImage.open(io.BytesIO(out)) as picture:
        assert picture.getexif()[0x010F] == "Canon"


def test_special_characters_are_escaped_and_kept():
    caption = "Tom & Jerry <3 \"quotes\" 'single' — café ✓"
    out = embed_caption(
        jpeg(), caption=caption, alt_text="a < b > c & d", keywords=["R&D", "<tag>", "naïve"]
    )
    raw = read_xmp(out)[0].decode("utf-8")
    assert "Tom &amp; Jerry &lt;3" in raw
    assert "<tag>" not in raw.replace("<rdf:li>&lt;tag&gt;", "")
    assert fields(out) == {
        "caption": caption,
        "alt_text": "a < b > c & d",
        "keywords": ["R&D", "<tag>", "naïve"],
    }


def test_control_characters_are_dropped_and_empty_fields_left_out():
    out = embed_caption(jpeg(), caption="bell\x07 here", alt_text="", keywords=["", " "])
    assert fields(out) == {"caption": "bell here", "alt_text": None, "keywords": []}


def test_existing_xmp_is_replaced_not_duplicated():
    first = embed_caption(jpeg(), caption="old", alt_text="old alt", keywords=["old"])
    second = embed_caption(first, caption="new", alt_text="new alt", keywords=["new", "two"])
    assert len(read_xmp(second)) == 1
    assert fields(second) == {"caption": "new", "alt_text": "new alt", "keywords": ["new", "two"]}
    assert pixels(second) == pixels(first)
    # the same input twice gives the same bytes
    assert embed_caption(second, caption="new", alt_text="new alt", keywords=["new", "two"]) == (
        second
    )


def test_pillow_written_xmp_is_replaced_too():
    out = io.BytesIO()
    PILImage.new("RGB", (16, 16), "red").save(
        out, format="JPEG", xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>old</x:xmpmeta>"
    )
    result = embed_caption(out.getvalue(), caption="new", alt_text="", keywords=[])
    assert len(read_xmp(result)) == 1
    assert fields(result)["caption"] == "new"


def test_not_a_jpeg_and_oversized_packets_are_refused():
    with pytest.raises(NotAJpeg):
        embed_caption(b"\x89PNG\r\n\x1a\n", caption="c", alt_text="", keywords=[])
    with pytest.raises(NotAJpeg):
        embed_caption(jpeg()[:30], caption="c", alt_text="", keywords=[])
    with pytest.raises(ValueError, match="does not fit"):
        embed_caption(jpeg(), caption="x" * 70_000, alt_text="", keywords=[])


@pytest.mark.django_db
def test_pipeline_with_edit_and_caption_writes_xmp_into_the_processed_file(
    ingested_order, ai_settings
):
    with RunwareSimulator(seed=3) as sim:
        httpx.post(f"{sim.http_url}/_sim/reset").raise_for_status()
        ai_settings.AI_PROVIDERS = ["runware"]
        ai_settings.AI_PROVIDER_CONCURRENCY = {"runware": 2}
        ai_settings.RUNWARE_URL = sim.ws_url
        ai_settings.RUNWARE_API_KEY = "test-key"
        order = ingested_order(None)
        order.preset = ProcessingPreset.objects.create(
            name="XMP test",
            slug="xmp-test",
            operations=["edit", "caption"],
            edit_prompt=f"Warm the colours (xmp test {order.pk})",
            caption_prompt="Describe the photo",
        )
        order.save(update_fields=["preset"])
        image = order.images.get()

        result = services.process_image(image.pk)

    assert result.status == Image.Status.PROCESSED, result.ai_metadata
    caption = result.ai_metadata["caption"]
    assert caption["caption"]
    with result.processed.open("rb") as fh:
        stored = fh.read()
    assert fields(stored) == {
        "caption": caption["caption"],
        "alt_text": caption["alt_text"] or None,
        "keywords": caption["keywords"],
    }
    with PILImage.open(io.BytesIO(stored)) as picture:
        picture.load()
    # the original upload is left as it was
    with result.original.open("rb") as fh:
        assert XMP_HEADER not in fh.read()
