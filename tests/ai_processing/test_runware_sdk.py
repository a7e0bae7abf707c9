"""Faithfulness: Runware's official Python SDK works against the simulator unchanged."""

import base64
import io

import httpx
import pytest
from PIL import Image
from runware import IImageCaption, IImageInference, IImageUpscale, Runware
from runware.utils import RunwareAPIError

from ai_processing.simulator import RunwareSimulator
from tests.asyncio_helpers import run_async


def test_official_sdk_inference_and_caption():
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 50)).save(buf, "PNG")
    image = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()

    with RunwareSimulator(api_key="sdk-key") as sim:

        async def go():
            rw = Runware(api_key="sdk-key", url=sim.ws_url)
            await rw.connect()
            try:
                images = await rw.imageInference(
                    IImageInference(
                        model="google:4@1",
                        positivePrompt="brighten the grass",
                        inputs={"referenceImages": [image]},
                        includeCost=True,
                    )
                )
                caption = await rw.imageCaption(IImageCaption(inputImage=image, includeCost=True))
            finally:
                await rw.disconnect()
            return images, caption

        images, caption = run_async(go(), 20)
    assert len(images) == 1
    assert images[0].imageURL.startswith(sim.http_url)
    assert images[0].cost == 0.039
    assert "green" in caption.text


def _png(size, colour=(30, 160, 50)) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, colour)
    for x in range(0, size[0], 8):  # some detail for the resampler to carry
        img.paste((240, 240, 240), (x, 0, x + 2, size[1]))
    img.save(buf, "PNG")
    return buf.getvalue()


def _data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_official_sdk_image_upscale_enlarges_by_the_factor():
    """The SDK's imageUpscale (upload first, then the task by UUID) runs unchanged; the answer
    is the input resampled by the factor, delivered as the SDK asked (URL, then base64)."""
    source = _png((120, 80))
    with RunwareSimulator(api_key="sdk-key") as sim:

        async def go():
            rw = Runware(api_key="sdk-key", url=sim.ws_url)
            await rw.connect()
            try:
                by_url = await rw.imageUpscale(
                    IImageUpscale(
                        inputImage=_data_uri(source),
                        upscaleFactor=3,
                        outputType="URL",
                        outputFormat="PNG",
                        includeCost=True,
                    )
                )
                as_b64 = await rw.imageUpscale(
                    IImageUpscale(
                        inputs={"image": _data_uri(source)},
                        upscaleFactor=2,
                        outputType="base64Data",
                        outputFormat="JPG",
                    )
                )
            finally:
                await rw.disconnect()
            return by_url, as_b64

        by_url, as_b64 = run_async(go(), 30)
        fetched = httpx.get(by_url[0].imageURL).content
    assert len(by_url) == 1
    assert by_url[0].imageURL.startswith(sim.http_url)
    assert by_url[0].inputImageUUID  # the uploaded image's UUID, as Runware answers
    assert by_url[0].cost is not None
    assert by_url[0].cost > 0
    big = Image.open(io.BytesIO(fetched))
    assert big.format == "PNG"
    assert big.size == (360, 240)
    # Real resampling: the stripes survive, the green stays green.
    r, g, b = big.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert g > r
    assert g > b
    small = Image.open(io.BytesIO(base64.b64decode(as_b64[0].imageBase64Data)))
    assert small.format == "JPEG"
    assert small.size == (240, 160)


def test_official_sdk_image_upscale_bad_factor_is_runwares_error():
    with RunwareSimulator(api_key="sdk-key") as sim:

        async def go():
            rw = Runware(api_key="sdk-key", url=sim.ws_url, max_retries=0)
            await rw.connect()
            try:
                await rw.imageUpscale(
                    IImageUpscale(inputImage=_data_uri(_png((32, 32))), upscaleFactor=5)
                )
            finally:
                await rw.disconnect()

        with pytest.raises(RunwareAPIError) as caught:
            run_async(go(), 30)
    error = caught.value.error_data
    assert error["code"] == "invalidUpscaleFactor"
    assert error["parameter"] == "upscaleFactor"
    assert (error["min"], error["max"]) == (2, 4)


def test_official_sdk_nano_banana_pro_at_4k_and_a_refused_size():
    """google:4@2 answers at a 4K size from its table (cost of the 4K tier); a size outside
    the table, and resolution together with width/height, are refused as Runware documents."""
    reference = _data_uri(_png((300, 200)))
    with RunwareSimulator(api_key="sdk-key") as sim:

        async def go():
            rw = Runware(api_key="sdk-key", url=sim.ws_url, max_retries=0)
            await rw.connect()
            errors = []
            try:
                images = await rw.imageInference(
                    IImageInference(
                        model="google:4@2",
                        positivePrompt="replace the background with a beach",
                        inputs={"referenceImages": [reference]},
                        width=5056,
                        height=3392,
                        includeCost=True,
                    )
                )
                by_tier = await rw.imageInference(
                    IImageInference(
                        model="google:4@2",
                        positivePrompt="replace the background with a beach",
                        inputs={"referenceImages": [reference]},
                        resolution="2K",
                        includeCost=True,
                    )
                )
                for extra in ({"width": 4000, "height": 3000}, {"resolution": "8K"}):
                    try:
                        await rw.imageInference(
                            IImageInference(
                                model="google:4@2",
                                positivePrompt="x",
                                inputs={"referenceImages": [reference]},
                                **extra,
                            )
                        )
                    except RunwareAPIError as exc:
                        errors.append(exc.error_data)
            finally:
                await rw.disconnect()
            return images, by_tier, errors

        images, by_tier, errors = run_async(go(), 60)
        four_k = Image.open(io.BytesIO(httpx.get(images[0].imageURL).content))
        two_k = Image.open(io.BytesIO(httpx.get(by_tier[0].imageURL).content))
    assert four_k.size == (5056, 3392)
    assert images[0].cost == 0.244
    assert two_k.size == (2528, 1696)  # 3:2 from the reference, at the 2K tier
    assert by_tier[0].cost == 0.138
    assert [e["code"] for e in errors] == ["invalidDimensions", "invalidResolution"]
    assert "5056x3392" in errors[0]["allowedValues"]
