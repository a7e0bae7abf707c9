"""The Gemini simulator speaks generateContent as Google documents it (raw HTTP, no SDK)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import types
from PIL import Image

from ai_processing.clients.sizes import GOOGLE_4_2_TIERS
from ai_processing.simulator.gemini import ASPECT_SIZES, GeminiSimulator

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"
PHOTO_B64 = base64.b64encode((PHOTOS / "chelsea.png").read_bytes()).decode()
KEY = "sim-key"
MODEL = "gemini-3.1-flash-image"


@pytest.fixture(scope="module")
def sim():
    with GeminiSimulator(api_key=KEY) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def reset(sim):
    httpx.post(f"{sim.url}/_sim/reset")
    return


def post(sim, body: dict, *, model: str = MODEL, key: str | None = KEY, query: bool = False):
    url = f"{sim.url}/v1beta/models/{model}:generateContent"
    headers = {"Content-Type": "application/json"}
    params = {}
    if key is not None and query:
        params["key"] = key
    elif key is not None:
        headers["x-goog-api-key"] = key
    return httpx.post(url, json=body, headers=headers, params=params, timeout=30)


def camel(aspect: str | None = "4:3", modalities=("TEXT", "IMAGE")) -> dict:
    config: dict = {"responseModalities": list(modalities)}
    if aspect:
        config["imageConfig"] = {"aspectRatio": aspect}
    parts = [
        {"text": "Make the sky sunset orange"},
        {"inlineData": {"mimeType": "image/png", "data": PHOTO_B64}},
    ]
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}


def image_part(answer: dict) -> bytes | None:
    for part in answer["candidates"][0]["content"]["parts"]:
        if "inlineData" in part:
            assert part["inlineData"]["mimeType"] == "image/png"
            return base64.b64decode(part["inlineData"]["data"])
    return None


def test_aspect_table_is_googles_gemini_3_table():
    # The Gemini 3 image models' 1K table: the same sizes as Nano Banana Pro's 1K tier on
    # Runware, except 21:9 (Google: 1584x672; Runware's page: 1548x672).
    runware_1k = set(GOOGLE_4_2_TIERS["1K"]) - {(1548, 672)}
    assert set(ASPECT_SIZES.values()) - {(1584, 672)} == runware_1k


def test_camel_case_edit_with_query_key(sim):
    response = post(sim, camel("4:3"), query=True)
    assert response.status_code == 200
    answer = response.json()
    parts = answer["candidates"][0]["content"]["parts"]
    assert any("text" in p for p in parts)
    data = image_part(answer)
    assert Image.open(io.BytesIO(data)).size == (1200, 896)
    assert answer["candidates"][0]["finishReason"] == "STOP"
    usage = answer["usageMetadata"]
    assert usage["candidatesTokenCount"] >= 1120
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert {"modality": "IMAGE", "tokenCount": 1120} in usage["candidatesTokensDetails"]


def test_snake_case_body_with_header_key_and_deterministic_output(sim):
    body = {
        "contents": [
            {
                "parts": [
                    {"text": "Make the sky sunset orange"},
                    {"inline_data": {"mime_type": "image/png", "data": PHOTO_B64}},
                ]
            }
        ],
        "generation_config": {
            "response_modalities": ["TEXT", "IMAGE"],
            "image_config": {"aspect_ratio": "4:3"},
        },
    }
    snake = post(sim, body)
    assert snake.status_code == 200
    assert image_part(snake.json()) == image_part(post(sim, camel("4:3")).json())


def test_without_aspect_ratio_the_nearest_to_the_photo_is_used(sim):
    data = image_part(post(sim, camel(None)).json())
    assert Image.open(io.BytesIO(data)).size == (1264, 848)


def test_text_only_modality_answers_text(sim):
    answer = post(sim, camel(None, modalities=["TEXT"])).json()
    assert image_part(answer) is None
    assert "landscape photo" in answer["candidates"][0]["content"]["parts"][0]["text"]


def test_invalid_aspect_ratio(sim):
    response = post(sim, camel("5:7"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "aspect_ratio" in error["message"]


def test_bad_key_is_400_api_key_invalid(sim):
    response = post(sim, camel(), key="nope")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"


def test_missing_key_is_403(sim):
    response = post(sim, camel(), key=None)
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"


def test_unknown_and_shut_down_models_are_404(sim):
    for model in ("gemini-2.5-flash-image", "no-such-model"):
        response = post(sim, camel(), model=model)
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["status"] == "NOT_FOUND"
        assert f"models/{model} is not found" in error["message"]


def test_rate_limit_carries_retry_info(sim):
    httpx.post(f"{sim.url}/_sim/faults", json={"rate_limit": 1, "retry_delay": "36s"})
    response = post(sim, camel())
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    types_ = [d["@type"] for d in error["details"]]
    assert types_ == [
        "type.googleapis.com/google.rpc.QuotaFailure",
        "type.googleapis.com/google.rpc.RetryInfo",
    ]
    assert error["details"][1]["retryDelay"] == "36s"
    assert post(sim, camel()).status_code == 200, "only the next N requests"


def test_overloaded_is_503_unavailable(sim):
    httpx.post(f"{sim.url}/_sim/faults", json={"unavailable": 1})
    response = post(sim, camel())
    assert response.status_code == 503
    assert response.json()["error"]["status"] == "UNAVAILABLE"


def test_bad_inline_image_and_empty_contents(sim):
    body = camel()
    body["contents"][0]["parts"][1]["inlineData"]["data"] = base64.b64encode(b"junk").decode()
    assert post(sim, body).status_code == 400
    body["contents"][0]["parts"][1]["inlineData"]["mimeType"] = "image/gif"
    assert "Unsupported MIME type" in post(sim, body).json()["error"]["message"]
    assert post(sim, {"contents": []}).status_code == 400


def test_fault_and_state_endpoints(sim):
    assert httpx.post(f"{sim.url}/_sim/faults", json={"nonsense": 1}).status_code == 400
    faults = httpx.post(f"{sim.url}/_sim/faults", json={"text_only": 2}).json()
    assert faults["text_only"] == 2
    answer = post(sim, camel()).json()
    assert image_part(answer) is None
    assert answer["candidates"][0]["finishReason"] == "NO_IMAGE"
    state = httpx.get(f"{sim.url}/_sim/state").json()
    assert state["faults"]["text_only"] == 1
    assert state["requests"] == {MODEL: 1}
    assert state["statuses"] == {"200": 1}


def test_sdk_default_api_version_also_works(sim):
    """google-genai 3.x defaults to API version v1; the simulator serves /v1 too."""
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=sim.url))
    response = client.models.generate_content(
        model=MODEL,
        contents=["Say something"],
        config=types.GenerateContentConfig(response_modalities=["TEXT"]),
    )
    assert response.text
    assert httpx.get(f"{sim.url}/_sim/state").json()["last_request"]["version"] == "v1"


@pytest.mark.parametrize(
    ("size", "expected", "tokens"),
    [("2K", (2528, 1696), 1120), ("4K", (5056, 3392), 2000)],
)
def test_official_sdk_image_size_option(sim, size, expected, tokens):
    """google-genai's ImageConfig(image_size=...) (imageSize on the wire) on Gemini 3 Pro
    Image: the answer has the size of Google's table for that tier and aspect."""
    client = genai.Client(
        api_key="sim-key", http_options=types.HttpOptions(base_url=sim.url, api_version="v1beta")
    )
    response = client.models.generate_content(
        model="gemini-3-pro-image",
        contents=[
            types.Part.from_bytes(data=base64.b64decode(PHOTO_B64), mime_type="image/png"),
            "Replace the background with a beach",
        ],
        config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio="3:2", image_size=size),
        ),
    )
    part = next(p for p in response.candidates[0].content.parts if p.inline_data)
    assert Image.open(io.BytesIO(part.inline_data.data)).size == expected
    details = response.usage_metadata.candidates_tokens_details
    assert [d.token_count for d in details if str(d.modality.value) == "IMAGE"] == [tokens]


@pytest.mark.parametrize("size", ["8K", "2k", "large"])
def test_unknown_image_size_is_invalid_argument(sim, size):
    body = camel("3:2")
    body["generationConfig"]["imageConfig"]["imageSize"] = size
    response = post(sim, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "image_size" in error["message"]
