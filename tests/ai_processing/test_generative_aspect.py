"""An original is never replaced by something smaller (issue 16): a generative answer of
another aspect (a 4:5 portrait of a 3:2 landscape) is enlarged in its own aspect to at least
the original's pixel count and long side, and the print crops, their DPI and the renditions
are worked out on that delivered file (faces placed where they are in it)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import pyvips
from PIL import Image as PILImage

from ai_processing import services
from ai_processing.providers.base import EditResult
from ai_processing.upscale import generative_size
from orders import intake, print_services, prints
from orders.models import Image
from tests.ai_processing.pipeline import (  # noqa: F401 (fixtures)
    ai_settings_fixture,
    manager_fixture,
    media_root_fixture,
    preset,
)
from tests.ai_processing.test_fullres import camera_like, downscale, jpeg_bytes

ORIGINAL = (1500, 1000)


@pytest.mark.parametrize(
    ("original", "answer", "expected"),
    [
        ((6000, 4000), (896, 1120), (4800, 6000)),  # long side decides
        ((6000, 4000), (1248, 832), (6000, 4000)),  # the same aspect: the original's size
        ((4000, 6000), (1344, 768), (6482, 3704)),  # pixel count decides
    ],
)
def test_generative_size_is_never_smaller_than_the_original(original, answer, expected):
    width, height = generative_size(original, answer)
    assert width * height >= original[0] * original[1]
    assert max(width, height) >= max(original)
    assert abs(width / height - answer[0] / answer[1]) < 0.002
    assert (width, height) == pytest.approx(expected, abs=1)


def _portrait_answer(original: np.ndarray) -> EditResult:
    """The centre 4:5 of the original at 896x1120 with a new backdrop (content, not tone)."""
    h = original.shape[0]
    w = round(h * 4 / 5)
    left = (original.shape[1] - w) // 2
    answer = downscale(np.ascontiguousarray(original[:, left : left + w]), (896, 1120)).copy()
    answer[:, :300] = np.array([200, 200, 204], np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(answer).save(out, format="JPEG", quality=95)
    return EditResult(image_bytes=out.getvalue(), mime_type="image/jpeg", model="google:4@1")


@pytest.mark.django_db(transaction=True)
def test_a_portrait_answer_of_a_landscape_is_not_smaller_and_prints_from_it(
    ai_settings, manager, make_order, media_root, settings, client
):
    settings.PRINT_MIN_DPI = 100
    order = make_order(manager, preset=preset("studio-background"))
    original = camera_like("coffee.png", ORIGINAL)
    image = intake.add_image(
        order, source=io.BytesIO(jpeg_bytes(original)), filename="IMG_0003.jpg", actor=manager
    )
    intake.ingest_image(image.pk)
    image.refresh_from_db()

    full = services._full_resolution(image, _portrait_answer(original))

    picture = pyvips.Image.new_from_buffer(full.data, "")
    size = (picture.width, picture.height)
    assert size == (1200, 1500)  # 4:5, long side 1500 (was 800x1000 before issue 16's fix)
    assert size[0] * size[1] >= ORIGINAL[0] * ORIGINAL[1]
    assert full.metadata["framing"] == "centre crop"
    region = full.metadata["region"]
    assert region == pytest.approx([350, 0, 800, 1000], abs=1)

    # A person framed the 4x6 by hand on the landscape original (left part of it)...
    print_services.set_order_prints(order, [{"size": "4x6", "quantity": 1}], actor=manager)
    manual = print_services.save_crop(
        image, "4x6", {"x": 0, "y": 0, "width": 0.6, "height": 0.9}, actor=manager
    )
    assert manual.manual
    (on_original,) = prints.crop_facts(image)
    assert on_original.inches == (6, 4)
    assert on_original.crop.basis == "manual"

    # ... then the edited file, stored as the AI step stores it, is a portrait: the crops and
    # the DPI are worked out on it, and the hand-drawn frame (drawn on another shape) is
    # placed again rather than cut at another aspect.
    name = services._store_processed(image, full.data)
    meta = {
        **image.ai_metadata,
        services.FULL_RESOLUTION: full.metadata,
        "analyze": {
            "facts": {
                "width": ORIGINAL[0],
                "height": ORIGINAL[1],
                "faces": {"available": True, "faces": [{"box": [700, 100, 100, 100]}]},
            }
        },
    }
    Image.objects.filter(pk=image.pk).update(processed=name, ai_metadata=meta)
    image.refresh_from_db()

    (fact,) = prints.crop_facts(image)
    assert fact.inches == (4, 6)  # turned like the delivered (portrait) file
    assert (fact.pixels.width, fact.pixels.height) == (1000, 1500)
    assert fact.dpi == 250
    assert fact.crop.basis == "faces"
    # The face (x 700-800 of the original) is at 350-450 of the region, x 525-675 here.
    assert prints.faces_in(image, *size) == [pytest.approx((525, 150, 150, 150))]
    assert fact.pixels.left <= 525
    assert fact.pixels.left + fact.pixels.width >= 675
    assert prints.print_shortfall(image) == ""

    (rendition,) = prints.print_renditions(image)
    rendered = pyvips.Image.new_from_buffer(rendition.render(), "")
    assert (rendered.width, rendered.height) == (1000, 1500)
    assert round(rendered.xres * 25.4) == 250

    # The crop editor draws the frames over the delivered (portrait) file, not the original.
    client.force_login(manager)
    page = client.get(f"/orders/{order.order_ref}/images/{image.pk}/prints/").content.decode()
    edited_url = f"/orders/{order.order_ref}/approval/images/{image.pk}/edited"
    assert f'<img src="{edited_url}"' in page
    assert client.get(edited_url).status_code == 200

    settings.PRINT_MIN_DPI = 300  # a too-small result goes to review with the reason
    assert prints.print_shortfall(image) == (
        "4×6 needs 1200×1800 pixels at 300 DPI; this crop has 1000×1500 (250 DPI)."
    )
