"""imageUpscale and the model size tables over the wire: raw WebSocket tasks against the
simulator, and the project's Runware client (upscale, resolution)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import uuid

import httpx
import pytest
from PIL import Image
from websockets.asyncio.client import connect

from ai_processing.clients.errors import RunwareBadRequest
from ai_processing.clients.runware import RunwareClient
from ai_processing.clients.sizes import (
    GOOGLE_4_2_TIERS,
    nearest_allowed_size,
    tier_of,
    upscale_factor_for,
)
from ai_processing.simulator import RunwareSimulator
from tests.asyncio_helpers import run_async


def jpeg(size=(64, 48), colour=(200, 120, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def uri(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def sim():
    with RunwareSimulator(api_key="good", seed=2) as s:
        yield s


@pytest.fixture
def client(sim):
    c = RunwareClient("good", sim.ws_url, task_timeout=20, backoff_base=0.05)
    yield c
    c.close()


def send(sim, *tasks) -> list[dict]:
    """One authenticated socket; each task's first message, in order of the tasks."""

    async def go():
        async with connect(sim.ws_url, max_size=None) as ws:
            await ws.send(json.dumps([{"taskType": "authentication", "apiKey": "good"}]))
            await ws.recv()
            replies = []
            for task in tasks:
                task = {"taskUUID": str(uuid.uuid4()), **task}
                await ws.send(json.dumps([task]))
                replies.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
            return replies

    return run_async(go(), 60)


def upscale_task(**extra) -> dict:
    return {"taskType": "imageUpscale", "inputImage": uri(jpeg()), "upscaleFactor": 2, **extra}


@pytest.mark.parametrize("factor", [1, 5, 2.5, "2", True, -2])
def test_bad_factors_are_refused_with_the_allowed_range(sim, factor):
    [reply] = send(sim, upscale_task(upscaleFactor=factor))
    assert reply["data"] == []
    [error] = reply["errors"]
    assert error["code"] == "invalidUpscaleFactor"
    assert error["parameter"] == "upscaleFactor"
    assert error["taskType"] == "imageUpscale"
    assert (error["min"], error["max"]) == (2, 4)


def test_missing_input_or_factor_and_bad_model_or_image(sim):
    replies = send(
        sim,
        {"taskType": "imageUpscale", "upscaleFactor": 2},
        {"taskType": "imageUpscale", "inputImage": uri(jpeg())},
        upscale_task(model="google:4@1"),
        upscale_task(inputImage="data:image/jpeg;base64,bm90IGFuIGltYWdl"),
        upscale_task(outputFormat="GIF"),
    )
    assert [r["errors"][0]["code"] for r in replies] == [
        "missingInputImage",
        "missingUpscaleFactor",
        "invalidModel",
        "invalidImage",
        "invalidOutputFormat",
    ]


@pytest.mark.parametrize("factor", [2, 3, 4, 4.0])
def test_each_factor_multiplies_both_sides(sim, factor):
    [reply] = send(
        sim, upscale_task(upscaleFactor=factor, outputType="base64Data", includeCost=True)
    )
    [item] = reply["data"]
    out = Image.open(io.BytesIO(base64.b64decode(item["imageBase64Data"])))
    assert out.size == (64 * int(factor), 48 * int(factor))
    assert item["inputImageUUID"]
    assert item["cost"] > 0


def test_the_input_can_be_an_earlier_result_by_uuid(sim):
    [uploaded] = send(sim, {"taskType": "imageUpload", "image": uri(jpeg((30, 20)))})
    image_uuid = uploaded["data"][0]["imageUUID"]
    [reply] = send(sim, upscale_task(inputImage=image_uuid, upscaleFactor=3))
    item = reply["data"][0]
    assert item["inputImageUUID"] == image_uuid
    assert Image.open(io.BytesIO(httpx.get(item["imageURL"]).content)).size == (90, 60)


def test_unknown_models_and_sizes_are_refused(sim):
    ref = {"inputs": {"referenceImages": [uri(jpeg())]}, "positivePrompt": "x"}
    replies = send(
        sim,
        {"taskType": "imageInference", "model": "runware:101@1", **ref},
        {"taskType": "imageInference", "model": "google:4@1", "width": 2048, "height": 2048},
        {"taskType": "imageInference", "model": "google:4@1", "resolution": "2K", **ref},
        {
            "taskType": "imageInference",
            "model": "google:4@2",
            "width": 4096,
            "height": 4096,
            "resolution": "4K",
            **ref,
        },
    )
    assert [r["errors"][0]["code"] for r in replies] == [
        "invalidModel",
        "invalidDimensions",
        "unsupportedParameter",
        "invalidParameter",
    ]


# --- sizes (pure) ------------------------------------------------------------------------


def test_tier_sizes_and_nearest():
    assert nearest_allowed_size(6000, 4000, "google:4@2", tier="4K") == (5096, 3392)
    assert nearest_allowed_size(4000, 5000, "google:4@2", tier="2K") == (1856, 2304)
    assert nearest_allowed_size(6000, 4000, "google:4@2") == (1264, 848)  # 1K by default
    assert nearest_allowed_size(6000, 4000) == (1248, 832)
    assert tier_of("google:4@2", 6336, 2688) == "4K"
    assert tier_of("google:4@1", 1248, 832) == "1K"
    assert all(max(w, h) >= 4096 for w, h in GOOGLE_4_2_TIERS["4K"])
    with pytest.raises(ValueError, match="no '8K' sizes"):
        nearest_allowed_size(3, 2, "google:4@2", tier="8K")


def test_upscale_factor_for():
    assert upscale_factor_for((1000, 1000), (1900, 1900)) == 2
    assert upscale_factor_for((1000, 1000), (2100, 1000)) == 3
    assert upscale_factor_for((1000, 1000), (3500, 1000)) == 4
    assert upscale_factor_for((1000, 1000), (9000, 1000)) == 4  # repeat after this one


# --- the client ------------------------------------------------------------------------


def test_client_upscale(client):
    result = client.upscale(jpeg((50, 40)), 4)
    assert result.image_url
    assert result.input_image_uuid
    assert result.cost > 0
    assert Image.open(io.BytesIO(client.download(result.image_url))).size == (200, 160)


@pytest.mark.parametrize("factor", [1, 5, 2.5, True])
def test_client_refuses_a_bad_factor_before_sending(client, sim, factor):
    before = httpx.get(f"{sim.http_url}/_sim/state").json()["tasks"].get("imageUpscale", 0)
    with pytest.raises(ValueError, match="upscale factor"):
        client.upscale(jpeg(), factor)
    after = httpx.get(f"{sim.http_url}/_sim/state").json()["tasks"].get("imageUpscale", 0)
    assert after == before


def test_client_inference_by_resolution_and_a_refused_size(client):
    result = client.image_inference(jpeg((300, 200)), "beach", model="google:4@2", resolution="2K")
    assert Image.open(io.BytesIO(client.download(result.image_url))).size == (2528, 1696)
    assert result.cost == 0.138
    with pytest.raises(RunwareBadRequest) as caught:
        client.image_inference(jpeg(), "beach", model="google:4@2", width=4000, height=3000)
    assert caught.value.code == "invalidDimensions"


def test_nano_banana_2_tiers_including_half_k(client):
    """google:4@3: Runware's 0.5K rows and the ratios only it has (4:1 here)."""
    half = client.image_inference(jpeg((300, 200)), "x", model="google:4@3", resolution="0.5K")
    assert Image.open(io.BytesIO(client.download(half.image_url))).size == (632, 424)
    assert half.cost == 0.04657
    wide = client.image_inference(jpeg(), "x", model="google:4@3", width=2048, height=512)
    assert Image.open(io.BytesIO(client.download(wide.image_url))).size == (2048, 512)
    assert wide.cost == 0.06895
    assert nearest_allowed_size(4000, 1000, "google:4@3", tier="0.5K") == (1024, 256)
