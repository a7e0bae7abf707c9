"""Faithfulness: Runware's official Python SDK works against the simulator unchanged."""

import base64
import io

from PIL import Image
from runware import IImageCaption, IImageInference, Runware

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
